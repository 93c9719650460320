// A run's result in the format of the JSON file that vLLM's serving benchmark
// (benchmarks/benchmark_serving.py --save-result) writes, so that a simulated or live FlowKV run
// can be put next to real vLLM measurements with the tools people already use on those files.
//
// Keys (docs/report.md lists them with their meaning):
//   backend, model_id, tokenizer_id, num_prompts, request_rate, burstiness, max_concurrency,
//   duration, completed, total_input_tokens, total_output_tokens, request_throughput,
//   request_goodput, output_throughput, total_token_throughput, and for each of ttft, tpot,
//   itl, e2el: mean_X_ms, median_X_ms, std_X_ms, p50_X_ms, p90_X_ms, p99_X_ms
//   (as vLLM writes them with --percentile-metrics ttft,tpot,itl,e2el
//   --metric-percentiles 50,90,99), then "flowkv": {...} with what vLLM has no key for.
// Definitions are vLLM's: over successful (completed) requests only; TPOT over requests with
// more than one output token; std is the population standard deviation; percentiles
// interpolate linearly (numpy's default); times in milliseconds, duration in seconds.
// Where a figure is unknown (the simulator keeps ITL in a histogram without its variance, so
// std_itl_ms), the value is null rather than a made-up number.
//
// Pure functions, deterministic: no date is written unless the caller gives one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "core/results/metrics.h"
#include "core/spec/scenario.h"
#include "core/work/request_record.h"

namespace flowkv::core {

// One request as vLLM's result needs it; times in seconds, NaN where not reached.
struct VllmRequest {
  bool completed = false;
  int64_t prompt_tokens = 0;
  int64_t output_tokens = 0;
  double ttft_s = 0;
  double e2e_s = 0;
};

struct VllmRunInfo {
  std::string backend = "flowkv-sim";
  std::string model_id;
  std::optional<double> request_rate;  // offered requests/s; nullopt: "inf" (all at time 0)
  double duration_s = 0;               // from the first arrival to the last finish
  std::optional<double> goodput_rps;   // requests/s meeting the SLO; nullopt: null (no SLO)
  Stat itl;                            // pooled inter-token gaps (seconds); count 0: unknown
  std::optional<double> itl_std_s;
  std::optional<std::string> date;     // vLLM's "%Y%m%d-%H%M%S"; omitted when not given
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();  // written under "flowkv"
};

nlohmann::ordered_json vllm_result_json(std::span<const VllmRequest> requests, const VllmRunInfo& info);

// From a finished run: the records and metrics `flowkv simulate` / `compare` hold (and the live
// runtime will). The offered rate is the number of arrivals over the arrival span.
nlohmann::ordered_json vllm_result_json(const RunMetrics& metrics, std::span<const RequestRecord> records,
                                        const Scenario& scenario, const std::string& backend = "flowkv-sim");

// Writes `result` to `file` through a temporary and a rename (nothing half-written); an I/O
// failure throws Error(kRuntime) naming the file.
void write_vllm_result(const std::filesystem::path& file, const nlohmann::ordered_json& result);

}  // namespace flowkv::core
