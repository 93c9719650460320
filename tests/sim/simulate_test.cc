// End-to-end simulations: totals balance, nothing leaks, outputs are byte-identical across runs,
// the transfer model adds up, and the result files are what docs/simulator.md says.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <unistd.h>

#include "core/sched/load_scenario.h"
#include "sim/run.h"
#include "sim/sim_backend.h"

namespace flowkv::sim {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

json scenario_json() {
  return json::parse(R"({
    "name": "sim-test",
    "cluster": {"nodes": [{"gpu": "H100-SXM", "count": 2, "role": "prefill"},
                          {"gpu": "H100-SXM", "count": 2, "role": "decode"}], "link": "NVLink4"},
    "model": "llama-3.1-8b",
    "kv": {"block_size": 16},
    "workload": {"generator": {"arrival": {"process": "poisson", "rate": 20}, "requests": 400,
                               "input": {"dist": "lognormal", "mean": 1500, "std": 800, "min": 8, "max": 8000},
                               "output": {"dist": "lognormal", "mean": 150, "std": 100, "min": 1, "max": 1000}}},
    "policies": {"global": "round-robin"},
    "seed": 5
  })");
}

core::Scenario parse(const json& j) { return core::parse_scenario(j, "test", FLOWKV_SOURCE_DIR); }

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(Simulate, TotalsBalanceAndNothingLeaks) {
  for (const char* policy : {"round-robin", "random", "least-loaded"}) {
    json j = scenario_json();
    j["policies"]["global"] = policy;
    const core::Scenario s = parse(j);
    const traces::Trace trace = load_scenario_trace(s);
    SimOptions o;
    o.check_invariants = true;
    const SimResult r = simulate(s, trace, o);
    EXPECT_EQ(r.metrics.total, 400) << policy;
    EXPECT_EQ(r.metrics.completed + r.metrics.failed, r.metrics.total) << policy;
    EXPECT_EQ(r.metrics.failed, 0) << policy;
    EXPECT_GT(r.metrics.ttft.mean, 0) << policy;
    EXPECT_GT(r.metrics.tpot.p50, 0) << policy;
    EXPECT_GT(r.metrics.transfer.count, 0) << policy;
    // Every node was used (each policy spreads 400 requests over 2 + 2 nodes).
    for (const core::NodeMetrics& n : r.metrics.nodes) EXPECT_GT(n.iterations, 0) << policy << " " << n.name;
  }
}

TEST(Simulate, TwoRunsWriteByteIdenticalSummaryAndRequests) {
  const core::Scenario s = parse(scenario_json());
  const traces::Trace trace = load_scenario_trace(s);
  const fs::path base = fs::temp_directory_path() / ("flowkv_sim_test_" + std::to_string(::getpid()));
  // The second run happens on another thread at the same time as a third: no shared state.
  SimResult r1 = simulate(s, trace);
  SimResult r2, r3;
  std::thread t2([&] { r2 = simulate(s, trace); });
  std::thread t3([&] { r3 = simulate(s, trace); });
  t2.join();
  t3.join();
  core::write_run_files(r1, s, base / "a");
  core::write_run_files(r2, s, base / "b");
  core::write_run_files(r3, s, base / "c");
  for (const char* f : {"summary.json", "requests.csv", "vllm.json"}) {
    const std::string a = slurp(base / "a" / f);
    EXPECT_FALSE(a.empty());
    EXPECT_EQ(a, slurp(base / "b" / f)) << f;
    EXPECT_EQ(a, slurp(base / "c" / f)) << f;
  }
  // Nothing left behind but the four files (run.json too).
  int files = 0;
  for (const auto& e : fs::directory_iterator(base / "a")) files += e.is_regular_file();
  EXPECT_EQ(files, 4);
  fs::remove_all(base);
}

TEST(Simulate, SummaryHasTheDocumentedKeys) {
  const core::Scenario s = parse(scenario_json());
  const SimResult r = simulate(s, load_scenario_trace(s));
  const json j = json::parse(r.summary.dump());
  for (const char* k : {"requests", "ttft_s", "tpot_s", "itl_s", "e2e_s", "transfer_s", "transfer_calls_total",
                        "transfer_bytes_total", "throughput", "goodput_rps", "role_flips", "nodes", "scenario"}) {
    EXPECT_TRUE(j.contains(k)) << k;
  }
  for (const char* k : {"total", "completed", "failed", "preempted"}) EXPECT_TRUE(j["requests"].contains(k)) << k;
  for (const char* k : {"mean", "p50", "p90", "p99"}) EXPECT_TRUE(j["ttft_s"].contains(k)) << k;
  EXPECT_EQ(j["nodes"].size(), 4u);
  EXPECT_EQ(j["scenario"]["policies"]["global"]["name"], "round-robin");
  EXPECT_FALSE(r.summary.dump().find("wall") != std::string::npos);
}

// A lone request's transfer takes exactly calls * per_call_latency + bytes / bandwidth, with the
// calls and bytes of the shared transfer plan.
TEST(Simulate, LoneTransferMatchesTheFormula) {
  json j = scenario_json();
  j["cluster"]["link"] = json::parse(R"({"bytes_per_s": 1e10, "per_call_latency_us": 10})");
  j["kv"]["layout"] = "paged";
  j["kv"]["transfer"] = "per-block";
  const core::Scenario s = parse(j);
  traces::Trace trace;
  core::Request r;
  r.id = core::RequestId{0};
  r.prompt_tokens = 1000;  // 63 blocks
  r.output_tokens = 10;
  trace.requests.push_back(r);
  const SimResult res = simulate(s, trace);
  ASSERT_EQ(res.metrics.completed, 1);
  const core::RequestRecord& rec = res.records[0];
  const int64_t blocks = 63;
  const int64_t calls = blocks * 2 * s.model.num_layers;  // one per (layer, K|V, block) chunk
  const int64_t bytes = blocks * 16 * s.model.kv_bytes_per_token();
  EXPECT_EQ(rec.transfer_calls, calls);
  EXPECT_EQ(rec.transfer_bytes, bytes);
  const double expected = calls * 10e-6 + static_cast<double>(bytes) / 1e10;
  EXPECT_NEAR(rec.transfer_time.seconds(), expected, 2e-9);
  // TTFT includes the transfer: the first token reaches the client with the KV.
  EXPECT_EQ(rec.first_token.value(), rec.transfer_end.value());
}

TEST(Simulate, MergedContiguousTransfersAreFasterThanPerBlockPaged) {
  json fast = scenario_json(), slow = scenario_json();
  fast["cluster"]["link"] = slow["cluster"]["link"] = "PCIe-Gen5-x16";
  slow["kv"]["layout"] = "paged";
  slow["kv"]["transfer"] = "per-block";
  slow["kv"]["allocator"] = "freelist";
  const core::Scenario sf = parse(fast), ss = parse(slow);
  const traces::Trace trace = load_scenario_trace(sf);
  const SimResult rf = simulate(sf, trace), rs = simulate(ss, trace);
  EXPECT_LT(rf.metrics.transfer_calls_total * 100, rs.metrics.transfer_calls_total);
  EXPECT_LT(rf.metrics.transfer.mean * 5, rs.metrics.transfer.mean);
  EXPECT_LT(rf.metrics.ttft.mean, rs.metrics.ttft.mean);
}

TEST(Simulate, ColocatedReferenceCompletesWithoutTransfers) {
  json j = scenario_json();
  j["cluster"]["nodes"] = json::parse(R"([{"gpu": "H100-SXM", "count": 4, "role": "colocated"}])");
  const core::Scenario s = parse(j);
  SimOptions o;
  o.check_invariants = true;
  const SimResult r = simulate(s, load_scenario_trace(s), o);
  EXPECT_EQ(r.metrics.completed, 400);
  EXPECT_EQ(r.metrics.transfer_calls_total, 0);
  EXPECT_EQ(r.metrics.transfer.count, 0);
}

// Regression: KV pools far too small for the load preempt (recompute) and requeue; every
// request still completes and no block leaks.
TEST(Simulate, TinyPoolsPreemptAndEverythingCompletes) {
  json j = scenario_json();
  j["kv"]["num_blocks"] = 700;  // 11,200 tokens per node
  j["workload"]["generator"]["output"] = json::parse(R"({"dist": "fixed", "value": 600})");
  j["workload"]["generator"]["input"] = json::parse(R"({"dist": "uniform", "min": 500, "max": 4000})");
  const core::Scenario s = parse(j);
  SimOptions o;
  o.check_invariants = true;
  const SimResult r = simulate(s, load_scenario_trace(s), o);
  EXPECT_EQ(r.metrics.completed, 400);
  EXPECT_GT(r.metrics.preemptions, 0);
  EXPECT_GT(r.metrics.preempted, 0);
}

TEST(SimBackend, OnlyTimersLeftEndsTheRun) {
  const core::Scenario s = parse(scenario_json());
  std::vector<core::Request> none;
  SimBackend b(s, none);
  b.submit(core::Timer{core::WorkId{3}, core::Duration::seconds(1)});
  EXPECT_FALSE(b.next().has_value());
}

}  // namespace
}  // namespace flowkv::sim
