// A run's result in the format of the JSON file that vLLM's serving benchmark writes
// (`vllm bench serve --save-result`, formerly benchmarks/benchmark_serving.py), so that a simulated
// or live FlowKV run can be put next to real vLLM measurements with the tools people already use
// on those files.
//
// Keys, in vLLM's order (docs/report.md lists them with their meaning and what differs):
//   date, endpoint_type, backend, label, model_id, tokenizer_id, num_prompts, request_rate,
//   burstiness, max_concurrency, duration, completed, failed, total_input_tokens,
//   total_output_tokens, request_throughput, request_goodput, output_throughput,
//   total_token_throughput, [detailed: input_lens, output_lens, ttfts, itls, start_times,
//   latencies, errors, generated_token_ids], max_output_tokens_per_s, max_concurrent_requests,
//   rtfx, and for each of ttft, tpot, itl, e2el: mean_X_ms, median_X_ms, std_X_ms, p50_X_ms,
//   p90_X_ms, p99_X_ms (as vLLM writes them with --percentile-metrics ttft,tpot,itl,e2el
//   --metric-percentiles 50,90,99), then "flowkv": {...} with what vLLM has no key for.
// Definitions are vLLM's: over successful (completed) requests only; TPOT over requests with
// more than one output token; std is the population standard deviation; percentiles
// interpolate linearly (numpy's default); times in milliseconds, duration in seconds, the
// per-request arrays in seconds. request_rate is the configured rate: a generator's Poisson or
// gamma rate (times workload.rate_scale), or "inf" for a replayed trace, which sets its own
// arrival times (vLLM's self-timed traces do the same); burstiness is the gamma shape (1.0 for
// Poisson and for traces, vLLM's default). A figure FlowKV cannot know is null, never invented
// (max_output_tokens_per_s: tokens are not time-stamped one by one without --detailed).
//
// Pure functions, deterministic: the date is the caller's (a simulated run writes the epoch of
// its virtual clock, so that the file stays byte-identical).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

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
  std::optional<std::string> label;    // null when none
  std::string model_id;
  std::optional<double> request_rate;  // the configured requests/s; nullopt: "inf"
  std::optional<double> burstiness = 1.0;  // gamma shape; nullopt: null (not a gamma/Poisson process)
  double duration_s = 0;               // from the first arrival to the last finish
  int64_t failed = 0;
  std::optional<double> goodput_rps;   // requests/s meeting the SLO; nullopt: null (no SLO)
  Stat itl;                            // pooled inter-token gaps (seconds); count 0: unknown
  std::optional<double> itl_std_s;
  int64_t max_concurrent_requests = 0;
  std::optional<std::string> date;     // vLLM's "%Y%m%d-%H%M%S"; omitted when not given
  nlohmann::ordered_json detailed;     // the per-request arrays, in vLLM's order; null: left out
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();  // written under "flowkv"
};

// What a run adds with --detailed: per request (by id), the gaps between its tokens (seconds)
// and, for a live run, the generated token ids.
struct VllmDetail {
  std::vector<std::vector<double>> itls;
  std::vector<std::vector<int32_t>> token_ids;  // empty: not known (a simulated run)
};

struct VllmOptions {
  std::string backend = "flowkv-sim";
  std::string date = "19700101-000000";  // a simulated run: the epoch of its virtual clock
  const VllmDetail* detail = nullptr;     // non-null: write the per-request arrays
};

nlohmann::ordered_json vllm_result_json(std::span<const VllmRequest> requests, const VllmRunInfo& info);

// From a finished run: the records and metrics `flowkv simulate`, `compare` and `live` hold.
nlohmann::ordered_json vllm_result_json(const RunMetrics& metrics, std::span<const RequestRecord> records,
                                        const Scenario& scenario, const VllmOptions& options = {});

// The configured arrival rate and burstiness of a scenario's workload, as vLLM would write them.
void configured_rate(const Scenario& scenario, VllmRunInfo& info);

// Writes `result` to `file` through a temporary and a rename (nothing half-written); an I/O
// failure throws Error(kRuntime) naming the file.
void write_vllm_result(const std::filesystem::path& file, const nlohmann::ordered_json& result);

}  // namespace flowkv::core
