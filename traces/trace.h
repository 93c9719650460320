// Traces: the requests a run replays, read from a public trace format or generated.
//
// Every reader streams its file once, validates each row where it enters (a malformed row is an
// input error naming the file, line, column and value: exit 2), and returns requests sorted by
// arrival with times relative to the first arrival, ids 0..n-1 in that order. Rows a format
// defines as not-a-request (BurstGPT failures, zero-token rows) are skipped and counted by
// reason: nothing disappears without a count.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/base/request.h"
#include "core/base/time.h"

namespace flowkv::traces {

enum class TraceFormat {
  kAuto,           // detect from the header / first line
  kAzure,          // TIMESTAMP,ContextTokens,GeneratedTokens
  kMooncake,       // JSONL timestamp(ms), input_length, output_length, hash_ids
  kVidur,          // arrived_at,num_prefill_tokens,num_decode_tokens
  kLlmServingSim,  // JSONL input_toks, output_toks, arrival_time_ns
  kApex,           // JSONL StartTimeOffset(ns), ContextTokens, GeneratedTokens
  kBurstGpt,       // Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type
  kNative,         // FlowKV's own, documented in README ("Trace formats")
};

TraceFormat parse_trace_format(std::string_view name);  // "auto", "azure", "mooncake", ...
const char* to_string(TraceFormat format);

// The most tokens a request may have on either side: the controller records token counts in 32
// bits. Readers and generators reject more, naming the row or the JSON path.
inline constexpr int64_t kMaxRequestTokens = 2'147'483'646;

struct TraceStats {
  int64_t rows = 0;                              // data rows seen
  std::map<std::string, int64_t> skipped;        // reason -> rows skipped
  int64_t clamped = 0;                           // requests clamped to the model's context
  // Requests that apply_transforms() left out on purpose (a time window, the first N).
  int64_t outside_window = 0;
  int64_t beyond_max_requests = 0;
  int64_t skipped_total() const;
};

struct Trace {
  std::string source;                   // file path or generator description
  TraceFormat format = TraceFormat::kNative;
  std::vector<core::Request> requests;  // sorted by arrival; ids 0..n-1
  TraceStats stats;
};

Trace read_trace(const std::filesystem::path& path, TraceFormat format = TraceFormat::kAuto);

// Stable-sorts by arrival, re-zeroes times to the first arrival and numbers ids 0..n-1: the
// invariants every Trace holds. Readers, generators and transforms finish with it.
void normalize_requests(std::vector<core::Request>& requests);

struct TraceTransforms {
  double rate_scale = 1.0;                 // > 1 compresses time (more requests per second)
  std::optional<core::Duration> window_start;  // keep arrivals in [start, end), then re-zero
  std::optional<core::Duration> window_end;
  std::optional<int64_t> max_requests;     // keep the first N
  std::optional<int64_t> max_context;      // clamp prompt + output to this (counted in stats)
};

void apply_transforms(Trace& trace, const TraceTransforms& transforms);

// The scenario's "workload" object: either {"trace": PATH, "format": F, ...transforms} or
// {"generator": {...}, ...transforms}. Relative paths resolve against base_dir, then the
// repository. json_path ("workload") prefixes error messages. seed drives generators.
Trace load_workload(const nlohmann::json& workload, const std::string& json_path,
                    const std::filesystem::path& base_dir, uint64_t seed);

// summary.json's "workload" object: source, requests, rows, rows_skipped, clamped.
nlohmann::ordered_json workload_json(const Trace& trace);

}  // namespace flowkv::traces
