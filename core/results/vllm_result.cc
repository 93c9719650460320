#include "core/results/vllm_result.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/results/result_files.h"

namespace flowkv::core {
namespace {

using nlohmann::ordered_json;

// vLLM computes each figure over the list of values, or over [0] when the list is empty.
struct Figures {
  double mean = 0, median = 0, std = 0, p50 = 0, p90 = 0, p99 = 0;
};

Figures figures_of(std::vector<double> v) {
  if (v.empty()) return Figures{};
  std::sort(v.begin(), v.end());
  Figures f;
  double sum = 0;
  for (double x : v) sum += x;
  f.mean = sum / static_cast<double>(v.size());
  double sq = 0;
  for (double x : v) sq += (x - f.mean) * (x - f.mean);
  f.std = std::sqrt(sq / static_cast<double>(v.size()));  // population, as numpy's default
  f.median = percentile_sorted(v, 0.5);
  f.p50 = f.median;
  f.p90 = percentile_sorted(v, 0.9);
  f.p99 = percentile_sorted(v, 0.99);
  return f;
}

double ms(double s) { return round9(s * 1e3); }

void put_metric(ordered_json& o, const std::string& name, const Figures& f, bool std_known = true) {
  o["mean_" + name + "_ms"] = ms(f.mean);
  o["median_" + name + "_ms"] = ms(f.median);
  if (std_known) {
    o["std_" + name + "_ms"] = ms(f.std);
  } else {
    o["std_" + name + "_ms"] = nullptr;
  }
  o["p50_" + name + "_ms"] = ms(f.p50);
  o["p90_" + name + "_ms"] = ms(f.p90);
  o["p99_" + name + "_ms"] = ms(f.p99);
}

}  // namespace

ordered_json vllm_result_json(std::span<const VllmRequest> requests, const VllmRunInfo& info) {
  std::vector<double> ttft, tpot, e2el;
  int64_t completed = 0, input_tokens = 0, output_tokens = 0;
  for (const VllmRequest& r : requests) {
    if (!r.completed) continue;
    ++completed;
    input_tokens += r.prompt_tokens;
    output_tokens += r.output_tokens;
    ttft.push_back(r.ttft_s);
    e2el.push_back(r.e2e_s);
    if (r.output_tokens > 1) tpot.push_back((r.e2e_s - r.ttft_s) / static_cast<double>(r.output_tokens - 1));
  }
  const double d = info.duration_s;
  auto per_s = [&](double v) { return d > 0 ? round9(v / d) : 0.0; };

  ordered_json o = ordered_json::object();
  if (info.date) o["date"] = *info.date;
  o["backend"] = info.backend;
  o["model_id"] = info.model_id;
  o["tokenizer_id"] = info.model_id;
  o["num_prompts"] = static_cast<int64_t>(requests.size());
  if (info.request_rate) {
    o["request_rate"] = round9(*info.request_rate);
  } else {
    o["request_rate"] = "inf";
  }
  o["burstiness"] = nullptr;       // a replayed trace has its own arrival process
  o["max_concurrency"] = nullptr;  // no client-side cap
  o["duration"] = round9(d);
  o["completed"] = completed;
  o["total_input_tokens"] = input_tokens;
  o["total_output_tokens"] = output_tokens;
  o["request_throughput"] = per_s(static_cast<double>(completed));
  if (info.goodput_rps) {
    o["request_goodput"] = round9(*info.goodput_rps);
  } else {
    o["request_goodput"] = nullptr;
  }
  o["output_throughput"] = per_s(static_cast<double>(output_tokens));
  o["total_token_throughput"] = per_s(static_cast<double>(input_tokens + output_tokens));
  put_metric(o, "ttft", figures_of(std::move(ttft)));
  put_metric(o, "tpot", figures_of(std::move(tpot)));
  Figures itl;
  if (info.itl.count > 0) {
    itl.mean = info.itl.mean;
    itl.median = info.itl.p50;
    itl.p50 = info.itl.p50;
    itl.p90 = info.itl.p90;
    itl.p99 = info.itl.p99;
    itl.std = info.itl_std_s.value_or(0);
  }
  put_metric(o, "itl", itl, info.itl.count == 0 || info.itl_std_s.has_value());
  put_metric(o, "e2el", figures_of(std::move(e2el)));
  if (!info.extra.empty()) o["flowkv"] = info.extra;
  return o;
}

ordered_json vllm_result_json(const RunMetrics& metrics, std::span<const RequestRecord> records,
                              const Scenario& scenario, const std::string& backend) {
  std::vector<VllmRequest> requests;
  requests.reserve(records.size());
  Time first = Time::max(), last = Time::zero();
  for (const RequestRecord& r : records) {
    if (r.prompt_tokens == 0) continue;  // an id that never arrived (as in requests.csv)
    first = std::min(first, r.arrival);
    last = std::max(last, r.arrival);
    VllmRequest v;
    v.completed = r.status == RequestStatus::kCompleted;
    v.prompt_tokens = r.prompt_tokens;
    v.output_tokens = r.output_tokens;
    if (v.completed) {
      v.ttft_s = (r.first_token.value() - r.arrival).seconds();
      v.e2e_s = (r.finish.value() - r.arrival).seconds();
    } else {
      v.ttft_s = v.e2e_s = std::nan("");
    }
    requests.push_back(v);
  }
  VllmRunInfo info;
  info.backend = backend;
  info.model_id = scenario.model.name;
  if (requests.size() > 1 && last > first) {
    info.request_rate = static_cast<double>(requests.size() - 1) / (last - first).seconds();
  }
  info.duration_s = metrics.makespan_s;
  info.goodput_rps = metrics.goodput_rps;
  info.itl = metrics.itl;
  info.extra["scenario"] = scenario.name;
  info.extra["policy"] = scenario.global.name;
  info.extra["failed"] = metrics.failed;
  info.extra["slo_ttft_s"] = scenario.slo.ttft_s;
  info.extra["slo_tpot_s"] = scenario.slo.tpot_s;
  info.extra["slo_attainment"] = round9(metrics.slo_attainment);
  if (metrics.itl.count > 0) {
    info.extra["note"] = "std_itl_ms is null: inter-token gaps are kept in a histogram without their variance";
  }
  return vllm_result_json(requests, info);
}

void write_vllm_result(const std::filesystem::path& file, const ordered_json& result) {
  const std::filesystem::path dir = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
  OutputDir out(dir);
  out.open(file.filename().string()) << result.dump(2) << '\n';
  out.commit();
}

}  // namespace flowkv::core
