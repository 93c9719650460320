// load_workload(): the scenario's "workload" object, from a trace file or a generator, with
// transforms; errors name the JSON path.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/traces/test_files.h"
#include "traces/generator.h"
#include "traces/trace.h"
#include "traces/trace_writer.h"

namespace flowkv::traces {
namespace {

using nlohmann::json;
using testing::input_error_of;

TEST(Workload, ShippedTraceByRepositoryPathWithTransforms) {
  // Relative to a base folder that does not hold it: found in the repository.
  const json w = json::parse(R"({"trace": "traces/data/AzureLLMInferenceTrace_conv.csv",
      "format": "azure", "window_s": [600, 1200], "max_requests": 1000, "rate_scale": 2.0,
      "clamp_to_context": 4096})");
  const Trace t = load_workload(w, "workload", "/nonexistent-base", 1);
  EXPECT_EQ(t.format, TraceFormat::kAzure);
  ASSERT_EQ(t.requests.size(), 1000u);
  EXPECT_GT(t.stats.outside_window, 0);
  EXPECT_GT(t.stats.beyond_max_requests, 0);
  EXPECT_LT(t.requests.back().arrival.seconds(), 300.0);  // 600 s of trace at twice the rate
  for (const auto& r : t.requests) ASSERT_LE(r.prompt_tokens + r.output_tokens, 4096);
}

TEST(Workload, TraceRelativeToBaseDir) {
  testing::TempDir dir;
  dir.write("w.csv", "arrived_at,num_prefill_tokens,num_decode_tokens\n0,5,5\n1,6,6\n");
  const Trace t = load_workload(json::parse(R"({"trace": "w.csv"})"), "workload", dir.path(), 1);
  EXPECT_EQ(t.requests.size(), 2u);
}

TEST(Workload, GeneratorsAreSeeded) {
  const json w =
      json::parse(R"({"generator": {"preset": "fixed-5k", "rate": 1.0, "requests": 200}})");
  const Trace a = load_workload(w, "workload", ".", 7);
  const Trace b = load_workload(w, "workload", ".", 7);
  const Trace c = load_workload(w, "workload", ".", 8);
  ASSERT_EQ(a.requests.size(), 200u);
  EXPECT_EQ(format_trace(a, TraceFormat::kNative), format_trace(b, TraceFormat::kNative));
  EXPECT_NE(format_trace(a, TraceFormat::kNative), format_trace(c, TraceFormat::kNative));
  EXPECT_EQ(a.requests[5].prompt_tokens, 5000);
}

TEST(Workload, ErrorsNameTheJsonPath) {
  auto error = [](const char* text) {
    return input_error_of([&] { load_workload(json::parse(text), "scenario.workload", ".", 1); });
  };
  EXPECT_EQ(error(R"({"generator": {"arrival": {"process": "poisson", "rate": -1},
                     "input": {"dist": "fixed", "value": 10}, "output": {"dist": "fixed", "value": 10}}})"),
            "scenario.workload.generator.arrival.rate: expected a positive number, got -1");
  EXPECT_EQ(error(R"({"trace": "a.csv", "generator": {}})"),
            "scenario.workload: expected exactly one of \"trace\" (a trace file) or \"generator\" "
            "(a synthetic workload)");
  EXPECT_EQ(error(R"({"trace": "traces/data/AzureLLMInferenceTrace_code.csv", "format": "csv"})"),
            "scenario.workload.format: unknown trace format 'csv' (expected one of: auto, azure, "
            "mooncake, vidur, llmservingsim, apex, burstgpt, native)");
  EXPECT_EQ(error(R"({"trace": "traces/data/AzureLLMInferenceTrace_code.csv", "window_s": [5]})"),
            "scenario.workload.window_s: expected [start_s, end_s] (end may be null), got [5]");
  EXPECT_EQ(
      error(R"({"trace": "traces/data/AzureLLMInferenceTrace_code.csv", "window_s": [5, 2]})"),
      "scenario.workload.window_s[1]: expected an end after the start (5), got 2");
  EXPECT_EQ(error(R"({"trace": "traces/data/AzureLLMInferenceTrace_code.csv", "rate_scale": 0})"),
            "scenario.workload.rate_scale: expected a positive number, got 0");
  EXPECT_EQ(
      error(R"({"trace": "traces/data/AzureLLMInferenceTrace_code.csv", "max_requests": 1.5})"),
      "scenario.workload.max_requests: expected a positive integer, got 1.5");
  EXPECT_EQ(error(R"({"trace": "traces/data/AzureLLMInferenceTrace_code.csv", "speed": 2})"),
            "scenario.workload: unknown key 'speed' (expected one of: trace, format, generator, "
            "rate_scale, window_s, max_requests, clamp_to_context)");
  EXPECT_EQ(
      error(
          R"({"trace": "traces/data/AzureLLMInferenceTrace_code.csv", "window_s": [99999, null]})")
          .rfind("scenario.workload: time window [99999.000 s, end) keeps no request of", 0),
      0u);
  EXPECT_EQ(error(R"({"trace": "missing.csv"})")
                .rfind("scenario.workload.trace: trace file 'missing.csv' not found (looked in "
                       "./missing.csv and ",
                       0),
            0u);
}

}  // namespace
}  // namespace flowkv::traces
