// Synthetic workloads: arrivals from a process at a rate, prompt and output lengths from a
// distribution, and an optional shared system prompt that gives requests a common prefix.
//
// generate() is a pure function of (spec, seed): the same pair gives a byte-identical trace on
// every platform (traces/random.h explains how). Arrivals, input lengths, output lengths and the
// shared-prefix choice each draw from their own stream, so changing one of them leaves the others
// as they were. The first request arrives at time 0, as in every Trace.
//
// Specs come from code, from a preset name, or from JSON (parse_generator_spec, whose errors
// name the JSON path, e.g. "workload.generator.arrival.rate: expected a positive number, got -1").
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "traces/trace.h"

namespace flowkv::traces {

enum class ArrivalProcess {
  kPoisson,   // exponential gaps (coefficient of variation 1)
  kGamma,     // gamma gaps with a chosen coefficient of variation: > 1 is burstier than Poisson
  kConstant,  // evenly spaced
};

struct ArrivalSpec {
  ArrivalProcess process = ArrivalProcess::kPoisson;
  double rate_rps = 1.0;  // mean requests per second, > 0
  double cv = 1.0;        // gamma only: std / mean of the gaps, > 0
};

enum class LengthDist {
  kFixed,      // always `value`
  kUniform,    // integers in [min, max]
  kLogNormal,  // mean and std of the lengths themselves, rounded, clamped to [min, max]
  kEmpirical,  // resampled uniformly from the requests of a trace file, or from a lengths-only
               // CSV with num_prefill_tokens,num_decode_tokens (Vidur's *_stats_*.csv)
};

struct LengthSpec {
  LengthDist dist = LengthDist::kFixed;
  int64_t value = 0;
  double mean = 0.0;
  double std = 0.0;
  int64_t min = 1;
  int64_t max = 1'000'000;
  std::filesystem::path trace;  // kEmpirical: the file to resample from
  TraceFormat trace_format = TraceFormat::kAuto;
};

// A system prompt of `tokens` tokens put in front of the prompt of a `fraction` of the requests
// (each request independently). Its whole blocks get the same prefix hashes in every request
// that has it. With a shared prefix every request carries prefix hashes (unique past the
// shared part); without one, generated requests carry none.
struct SharedPrefixSpec {
  int64_t tokens = 0;
  double fraction = 0.0;
};

struct GeneratorSpec {
  std::string preset;  // the preset it started from, if any (for descriptions)
  ArrivalSpec arrival;
  int64_t requests = 1000;
  LengthSpec input;
  LengthSpec output;
  std::optional<SharedPrefixSpec> shared_prefix;
};

// Presets for the FlowKV paper's workloads: fixed-1k, fixed-5k, fixed-10k (input 1000, 5000,
// 10000 tokens, output 256) and LongBench-like gov_report, multi_news, qmsum. All use Poisson
// arrivals at 1 req/s and 1000 requests unless overridden.
std::vector<std::string> preset_names();
GeneratorSpec preset_spec(const std::string& name);  // input error listing the names otherwise

// Checks ranges (rates > 0, min <= max, ...); errors are prefixed with `json_path`.
void validate_generator_spec(const GeneratorSpec& spec, const std::string& json_path);

// The JSON form (docs/traces.md): either {"preset": NAME, "rate": R, "requests": N, ...} or
// {"arrival": {...}, "requests": N, "input": {...}, "output": {...}, "shared_prefix": {...}}.
// Relative empirical trace paths resolve against base_dir, then the repository.
GeneratorSpec parse_generator_spec(const nlohmann::json& j, const std::string& json_path,
                                   const std::filesystem::path& base_dir);

Trace generate(const GeneratorSpec& spec, uint64_t seed);

// One line describing the spec, e.g. "generator preset=fixed-5k poisson 1 req/s 200 requests".
std::string describe(const GeneratorSpec& spec, uint64_t seed);

// Resolves a relative path against base_dir, then the repository root (so scenarios can name
// "traces/data/..."); an absolute path is kept. An input error naming `json_path` and every place
// tried when the file exists nowhere.
std::filesystem::path resolve_data_path(const std::filesystem::path& path,
                                        const std::filesystem::path& base_dir,
                                        const std::string& json_path);

}  // namespace flowkv::traces
