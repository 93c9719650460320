// Hand-made result folders in the real formats, for the report tests: summary.json and
// requests.csv are written by core's own writers (core/results/result_files.h) from synthetic request
// records, so the tests follow the format wherever it goes. compare.json and sweep.json follow
// the layouts `flowkv compare` and `flowkv sweep` write (docs/report.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/streaming_histogram.h"
#include "core/results/metrics.h"
#include "core/results/result_files.h"
#include "core/spec/scenario.h"
#include "core/work/request_record.h"

namespace flowkv::fixtures {

namespace fs = std::filesystem;

struct FakeRun {
  std::string policy = "round-robin";
  int64_t requests = 300;
  double slowdown = 1.0;     // scales TTFT and transfer times: a "worse" policy
  double rate_scale = 1.0;
  uint64_t seed = 1;
  int failed_every = 0;      // every k-th request fails (0: none)
  bool colocated = false;    // no KV transfers
};

inline core::Scenario fake_scenario(const FakeRun& f) {
  core::Scenario sc;
  sc.name = "fake";
  sc.slo.ttft_s = 0.5;
  sc.slo.tpot_s = 0.05;
  const char* names[] = {"P0", "P1", "D0", "D1"};
  for (const char* n : names) {
    core::NodeSpec node;
    node.name = n;
    node.role = n[0] == 'P' ? core::NodeRole::kPrefill : core::NodeRole::kDecode;
    sc.nodes.push_back(node);
  }
  nlohmann::ordered_json r = nlohmann::ordered_json::object();
  r["name"] = "fake";
  r["model"] = "llama-3.1-8b";
  r["kv"] = {{"layout", "contiguous"}, {"allocator", "segment"}};
  r["workload"] = {{"generator", "poisson"}, {"rate_scale", f.rate_scale}};
  r["policies"] = {{"global", {{"name", f.policy}}}, {"batch", {{"name", "continuous"}}}, {"role", {{"name", "static"}}}};
  r["slo"] = {{"ttft_s", sc.slo.ttft_s}, {"tpot_s", sc.slo.tpot_s}};
  sc.resolved = r;
  return sc;
}

// Deterministic synthetic records: prompt 32..4000 tokens, output 1..300, TTFT growing with
// the prompt, transfer time growing with the prompt (bytes) plus a per-call cost.
inline std::vector<core::RequestRecord> fake_records(const FakeRun& f, core::StreamingHistogram& itl) {
  std::mt19937_64 rng(f.seed);
  std::vector<core::RequestRecord> recs;
  for (int64_t i = 0; i < f.requests; ++i) {
    core::RequestRecord r;
    r.id = static_cast<core::RequestId>(i);
    r.prompt_tokens = 32 + static_cast<int32_t>(rng() % 3969);
    r.output_tokens = 1 + static_cast<int32_t>(rng() % 300);
    r.arrival = core::Time::zero() + core::Duration::from_seconds(static_cast<double>(i) * 0.04 / std::max(0.1, f.rate_scale));
    r.queued = r.arrival;
    const int64_t wait_us = static_cast<int64_t>(rng() % 200000);
    r.prefill_start = r.arrival + core::Duration::micros(wait_us);
    r.prefill_end = r.prefill_start.value() +
                    core::Duration::micros(static_cast<int64_t>(r.prompt_tokens * 40 * f.slowdown));
    r.prefill_node = static_cast<uint16_t>(i % 2);
    r.decode_node = static_cast<uint16_t>(2 + i % 2);
    core::Time ready = r.prefill_end.value();
    if (!f.colocated) {
      r.transfer_start = ready;
      r.transfer_calls = 1 + static_cast<int32_t>(rng() % 3);
      r.transfer_time = core::Duration::micros(
          static_cast<int64_t>((r.transfer_calls * 30 + r.prompt_tokens * 0.4) * f.slowdown));
      r.transfer_bytes = int64_t{r.prompt_tokens} * 131072;
      r.transfer_end = ready + r.transfer_time;
      ready = r.transfer_end.value();
    }
    if (f.failed_every > 0 && i % f.failed_every == f.failed_every - 1) {
      r.status = core::RequestStatus::kFailed;
      r.failure = core::FailureReason::kTooLargeForDecode;
      r.finish = ready;
      recs.push_back(r);
      continue;
    }
    const core::Duration gap = core::Duration::micros(20000 + static_cast<int64_t>(rng() % 15000));
    r.first_token = ready;
    r.last_token = ready + gap * (r.output_tokens - 1);
    r.finish = r.last_token;
    r.tokens = r.output_tokens;
    r.status = core::RequestStatus::kCompleted;
    if (r.output_tokens > 1) itl.add(gap, r.output_tokens - 1);
    recs.push_back(r);
  }
  return recs;
}

inline core::RunMetrics fake_metrics(const FakeRun& f, const core::Scenario& sc,
                                     const std::vector<core::RequestRecord>& recs, const core::StreamingHistogram& itl) {
  core::RunMetrics m = core::compute_metrics(sc, recs, itl, {});
  for (size_t i = 0; i < sc.nodes.size(); ++i) {
    core::NodeMetrics n;
    n.name = sc.nodes[i].name;
    n.gpu = "H100-SXM";
    n.initial_role = n.final_role = sc.nodes[i].role;
    n.kv_blocks = 20000;
    n.utilization = 0.2 + 0.15 * static_cast<double>(i) / f.slowdown;
    n.kv_usage_mean = 0.1 + 0.1 * static_cast<double>(i);
    n.kv_usage_peak = 0.3 + 0.15 * static_cast<double>(i);
    n.iterations = 1000 + static_cast<int64_t>(i);
    m.nodes.push_back(n);
  }
  return m;
}

// Writes DIR/summary.json and DIR/requests.csv; returns the summary.
inline nlohmann::ordered_json write_fake_run(const fs::path& dir, const FakeRun& f) {
  const core::Scenario sc = fake_scenario(f);
  core::StreamingHistogram itl;
  const std::vector<core::RequestRecord> recs = fake_records(f, itl);
  const core::RunMetrics m = fake_metrics(f, sc, recs, itl);
  const nlohmann::ordered_json summary = core::summary_json(m, sc);
  core::OutputDir out(dir);
  out.open("summary.json") << summary.dump(2) << '\n';
  core::write_requests_csv(out.open("requests.csv"), recs, sc);
  out.commit();
  return summary;
}

inline void write_text(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << text;
}

// DIR/compare.json and DIR/<policy>/{summary.json,requests.csv} for each policy.
inline void write_fake_compare(const fs::path& dir, const std::vector<FakeRun>& runs) {
  nlohmann::ordered_json c = {{"policies", nlohmann::ordered_json::array()}};
  for (const FakeRun& f : runs) {
    const nlohmann::ordered_json summary = write_fake_run(dir / f.policy, f);
    c["policies"].push_back({{"name", f.policy}, {"summary", summary}});
  }
  write_text(dir / "compare.json", c.dump(2));
}

// DIR/sweep.json and one folder per (policy, rate scale) cell.
inline void write_fake_sweep(const fs::path& dir, const std::vector<std::string>& policies,
                             const std::vector<double>& scales) {
  nlohmann::ordered_json s = {{"cells", nlohmann::ordered_json::array()}};
  for (const std::string& p : policies) {
    for (double scale : scales) {
      FakeRun f;
      f.policy = p;
      f.rate_scale = scale;
      f.requests = 120;
      f.slowdown = (p == policies.front() ? 1.0 : 1.6) * scale;
      const std::string name = p + "-x" + std::to_string(static_cast<int>(scale * 100));
      write_fake_run(dir / name, f);
      s["cells"].push_back({{"policy", p}, {"rate_scale", scale}, {"rate_rps", 25.0 * scale}, {"dir", name}});
    }
  }
  write_text(dir / "sweep.json", s.dump(2));
}

}  // namespace flowkv::fixtures
