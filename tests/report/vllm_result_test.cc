// vLLM-compatible result JSON (core/results/vllm_result.h): the key names of benchmark_serving.py's
// result file, its definitions (completed requests only, TPOT over multi-token requests,
// population std, linear percentiles, milliseconds), and the figures on a hand-computed run.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "core/results/vllm_result.h"
#include "tests/report/result_fixtures.h"

namespace {

namespace fs = std::filesystem;
using namespace flowkv;

core::Time at(double s) { return core::Time::zero() + core::Duration::from_seconds(s); }

core::RequestRecord completed(uint64_t id, int32_t prompt, int32_t output, double arrival, double first, double finish) {
  core::RequestRecord r;
  r.id = static_cast<core::RequestId>(id);
  r.prompt_tokens = prompt;
  r.output_tokens = output;
  r.tokens = output;
  r.arrival = at(arrival);
  r.prefill_start = at(arrival);
  r.first_token = at(first);
  r.last_token = at(finish);
  r.finish = at(finish);
  r.status = core::RequestStatus::kCompleted;
  return r;
}

struct Fixture {
  core::Scenario scenario;
  std::vector<core::RequestRecord> records;
  core::StreamingHistogram itl;
  core::RunMetrics metrics;
};

Fixture hand_made_run() {
  Fixture f;
  fixtures::FakeRun fr;
  fr.policy = "least-loaded";
  f.scenario = fixtures::fake_scenario(fr);
  f.scenario.model.name = "llama-3.1-8b";
  f.scenario.global.name = "least-loaded";
  f.records.push_back(completed(0, 100, 11, 0.0, 0.1, 1.1));  // TTFT 0.1, E2E 1.1, TPOT 0.1
  f.records.push_back(completed(1, 200, 1, 1.0, 1.2, 1.2));   // TTFT 0.2, E2E 0.2, no TPOT
  f.records.push_back(completed(2, 300, 5, 2.0, 2.3, 2.7));   // TTFT 0.3, E2E 0.7, TPOT 0.1
  core::RequestRecord failed;
  failed.id = static_cast<core::RequestId>(3);
  failed.prompt_tokens = 400;
  failed.output_tokens = 50;
  failed.arrival = at(2.5);
  failed.finish = at(2.5);
  failed.status = core::RequestStatus::kFailed;
  failed.failure = core::FailureReason::kTooLargeForPrefill;
  f.records.push_back(failed);
  f.itl.add(core::Duration::millis(100), 14);
  f.metrics = core::compute_metrics(f.scenario, f.records, f.itl, {});
  return f;
}

TEST(VllmResult, HasTheKeysOfVllmsResultFile) {
  const Fixture f = hand_made_run();
  const nlohmann::ordered_json j = core::vllm_result_json(f.metrics, f.records, f.scenario);
  std::set<std::string> keys;
  for (const auto& item : j.items()) keys.insert(item.key());
  std::set<std::string> expected = {"date",         "endpoint_type",     "backend",        "label",
                                    "model_id",     "tokenizer_id",      "num_prompts",    "request_rate",
                                    "burstiness",   "max_concurrency",   "duration",       "completed",
                                    "failed",       "total_input_tokens", "total_output_tokens",
                                    "request_throughput", "request_goodput", "output_throughput",
                                    "total_token_throughput", "max_output_tokens_per_s",
                                    "max_concurrent_requests", "rtfx", "flowkv"};
  for (const char* m : {"ttft", "tpot", "itl", "e2el"}) {
    for (const char* s : {"mean", "median", "std", "p50", "p90", "p99"}) expected.insert(std::string(s) + "_" + m + "_ms");
  }
  EXPECT_EQ(keys, expected);
  EXPECT_EQ(j.begin().key(), "date");  // vLLM's order
  EXPECT_EQ(j["date"], "19700101-000000");  // a simulated run: the epoch of its virtual clock
  // The per-request arrays only on request.
  EXPECT_EQ(j.find("itls"), j.end());
}

TEST(VllmResult, DetailedAddsThePerRequestArrays) {
  const Fixture f = hand_made_run();
  core::VllmDetail detail;
  detail.itls = {{0.1, 0.1}, {}, {0.2}};
  detail.token_ids = {{5, 6, 7}, {8}, {9, 10}, {}};
  core::VllmOptions o;
  o.detail = &detail;
  const nlohmann::ordered_json j = core::vllm_result_json(f.metrics, f.records, f.scenario, o);
  EXPECT_EQ(j["input_lens"], nlohmann::json::parse("[100, 200, 300, 400]"));
  EXPECT_EQ(j["output_lens"], nlohmann::json::parse("[11, 1, 5, 0]"));
  EXPECT_NEAR(j["ttfts"][2].get<double>(), 0.3, 1e-9);
  EXPECT_EQ(j["itls"][0], nlohmann::json::parse("[0.1, 0.1]"));
  EXPECT_EQ(j["itls"][3], nlohmann::json::array());  // nothing recorded for it
  EXPECT_EQ(j["errors"][0], "");
  EXPECT_EQ(j["errors"][3], "prompt_larger_than_any_prefill_pool");
  EXPECT_EQ(j["generated_token_ids"][0], nlohmann::json::parse("[5, 6, 7]"));
  EXPECT_NEAR(j["start_times"][1].get<double>(), 1.0, 1e-9);
  // vLLM's order: the arrays between total_token_throughput and max_output_tokens_per_s.
  std::vector<std::string> order;
  for (const auto& item : j.items()) order.push_back(item.key());
  const auto at = [&](const char* k) { return std::find(order.begin(), order.end(), k) - order.begin(); };
  EXPECT_LT(at("total_token_throughput"), at("input_lens"));
  EXPECT_LT(at("errors"), at("max_output_tokens_per_s"));
}

TEST(VllmResult, ConfiguredRateAndBurstinessAsVllmWritesThem) {
  Fixture f = hand_made_run();
  core::VllmRunInfo info;
  f.scenario.workload = nlohmann::json::parse(R"({"trace": "x.csv"})");
  core::configured_rate(f.scenario, info);
  EXPECT_FALSE(info.request_rate.has_value());  // a trace: "inf"
  EXPECT_EQ(info.burstiness, 1.0);
  f.scenario.workload = nlohmann::json::parse(R"({"generator": {"arrival": {"process": "gamma", "rate": 4, "cv": 2}}, "rate_scale": 1.5})");
  core::configured_rate(f.scenario, info);
  EXPECT_EQ(info.request_rate, 6.0);
  EXPECT_EQ(info.burstiness, 0.25);
  f.scenario.workload = nlohmann::json::parse(R"({"generator": {"arrival": {"process": "constant", "rate": 2}}})");
  core::configured_rate(f.scenario, info);
  EXPECT_EQ(info.request_rate, 2.0);
  EXPECT_FALSE(info.burstiness.has_value());
}

TEST(VllmResult, FiguresFollowVllmsDefinitions) {
  const Fixture f = hand_made_run();
  const nlohmann::ordered_json j = core::vllm_result_json(f.metrics, f.records, f.scenario);
  EXPECT_EQ(j["backend"], "flowkv-sim");
  EXPECT_EQ(j["model_id"], "llama-3.1-8b");
  EXPECT_EQ(j["num_prompts"], 4);
  EXPECT_EQ(j["completed"], 3);
  EXPECT_EQ(j["total_input_tokens"], 600);   // completed requests only, as vLLM
  EXPECT_EQ(j["total_output_tokens"], 17);
  EXPECT_DOUBLE_EQ(j["duration"].get<double>(), 2.7);
  EXPECT_EQ(j["request_rate"], "inf");  // a replayed workload sets its own times
  EXPECT_EQ(j["failed"], 1);
  EXPECT_EQ(j["max_concurrent_requests"], 2);  // r2 (2.0-2.7) and the failed r3 at 2.5
  EXPECT_NEAR(j["request_throughput"].get<double>(), 3 / 2.7, 1e-8);
  EXPECT_NEAR(j["output_throughput"].get<double>(), 17 / 2.7, 1e-8);
  EXPECT_NEAR(j["total_token_throughput"].get<double>(), 617 / 2.7, 1e-6);
  EXPECT_NEAR(j["mean_ttft_ms"].get<double>(), 200, 1e-6);
  EXPECT_NEAR(j["median_ttft_ms"].get<double>(), 200, 1e-6);
  EXPECT_NEAR(j["std_ttft_ms"].get<double>(), 1000 * std::sqrt(0.02 / 3), 1e-6);  // population std
  EXPECT_NEAR(j["p90_ttft_ms"].get<double>(), 280, 1e-6);
  EXPECT_NEAR(j["p99_ttft_ms"].get<double>(), 298, 1e-6);
  EXPECT_NEAR(j["mean_tpot_ms"].get<double>(), 100, 1e-6);  // the one-token request has no TPOT
  EXPECT_NEAR(j["std_tpot_ms"].get<double>(), 0, 1e-6);
  EXPECT_NEAR(j["mean_e2el_ms"].get<double>(), 2000.0 / 3, 1e-5);
  EXPECT_NEAR(j["median_e2el_ms"].get<double>(), 700, 1e-6);
  EXPECT_NEAR(j["mean_itl_ms"].get<double>(), 100, 1e-6);
  EXPECT_NEAR(j["std_itl_ms"].get<double>(), 0, 1e-9);  // 14 equal gaps: exact
  // Both SLOs (0.5 s, 50 ms): r1 (one token, TTFT 0.2) meets them, r0 and r2 (TPOT 100 ms) do not.
  EXPECT_NEAR(j["request_goodput"].get<double>(), 1 / 2.7, 1e-8);
  EXPECT_EQ(j["flowkv"]["policy"], "least-loaded");
}

TEST(VllmResult, NoCompletedRequestGivesZerosAsVllmDoes) {
  core::VllmRunInfo info;
  info.model_id = "m";
  std::vector<core::VllmRequest> reqs(2);  // both failed
  const nlohmann::ordered_json j = core::vllm_result_json(reqs, info);
  EXPECT_EQ(j["completed"], 0);
  EXPECT_EQ(j["request_rate"], "inf");
  EXPECT_EQ(j["mean_ttft_ms"], 0.0);
  EXPECT_EQ(j["p99_e2el_ms"], 0.0);
  EXPECT_EQ(j["std_itl_ms"], 0.0);  // no gap at all: known to be zero
  EXPECT_EQ(j["request_throughput"], 0.0);
  EXPECT_TRUE(j["request_goodput"].is_null());
  EXPECT_EQ(j.find("flowkv"), j.end());
  EXPECT_EQ(j.find("date"), j.end());
  info.date = "20250101-120000";
  EXPECT_EQ(core::vllm_result_json(reqs, info).begin().key(), "date");
}

TEST(VllmResult, WritesTheFileWholeAndDeterministically) {
  std::string tmpl = (fs::temp_directory_path() / "flowkv-vllm-test-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const fs::path dir = tmpl;
  const Fixture f = hand_made_run();
  const nlohmann::ordered_json j = core::vllm_result_json(f.metrics, f.records, f.scenario);
  core::write_vllm_result(dir / "out" / "vllm.json", j);
  std::ifstream in(dir / "out" / "vllm.json");
  const nlohmann::json back = nlohmann::json::parse(in);
  EXPECT_EQ(back["completed"], 3);
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir / "out")) files += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 1u);
  EXPECT_EQ(j.dump(), core::vllm_result_json(f.metrics, f.records, f.scenario).dump());
  fs::remove_all(dir);
}

}  // namespace
