// The per-format readers behind read_trace() (internal to traces/).
//
// Each reader parses its rows into absolute arrival times (whatever epoch the format uses, in
// ns) and hands them to a RowSink, which skips zero-token rows by reason and, for formats that
// promise arrival order, rejects a timestamp that goes backwards. read_trace() then sorts where
// needed, re-zeroes to the first arrival and numbers the requests.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/request.h"
#include "traces/trace.h"

namespace flowkv::traces::detail {

inline constexpr const char* kSkipZeroInput = "zero_input_tokens";
inline constexpr const char* kSkipZeroOutput = "zero_output_tokens";
inline constexpr const char* kSkipFailureLogType = "failure_log_type";

class RowSink {
 public:
  // `ordered`: the format promises non-decreasing arrival times (checked row by row).
  RowSink(std::string file, TraceFormat format, bool ordered, std::string_view time_column);

  // One data row. `raw_time` is the timestamp as written, for the error message.
  void add(int64_t line, std::string_view raw_time, int64_t arrival_ns, int64_t prompt_tokens,
           int64_t output_tokens, std::vector<uint64_t>&& prefix_hashes = {},
           std::vector<int32_t>&& token_ids = {});
  // A row the format defines as not-a-request; counted under `reason`.
  void skip(const char* reason);

  const std::string& file() const { return file_; }
  std::vector<core::Request>& requests() { return requests_; }
  TraceStats& stats() { return stats_; }
  bool ordered() const { return ordered_; }

 private:
  std::string file_;
  TraceFormat format_;
  bool ordered_;
  std::string_view time_column_;
  std::vector<core::Request> requests_;
  TraceStats stats_;
  bool have_previous_ = false;
  int64_t previous_ns_ = 0;
  int64_t previous_line_ = 0;
  std::string_view previous_raw_;
};

// The format named by the first non-blank line, or an input error listing what was expected.
TraceFormat detect_format(std::string_view text, const std::string& file);

void read_azure(std::string_view text, RowSink& sink);
void read_vidur(std::string_view text, RowSink& sink);
void read_burstgpt(std::string_view text, RowSink& sink);
// A lengths-only CSV (num_prefill_tokens,num_decode_tokens, e.g. Vidur's *_stats_*.csv): every
// arrival is 0. Only for resampling lengths; read_trace() refuses such files.
void read_vidur_lengths(std::string_view text, RowSink& sink);
void read_native(std::string_view text, RowSink& sink);
void read_mooncake(std::string_view text, RowSink& sink);
void read_llmservingsim(std::string_view text, RowSink& sink);
void read_apex(std::string_view text, RowSink& sink);

// Prompt and output lengths to resample: any trace read_trace() accepts, or a lengths-only CSV
// (its arrival times are all 0).
Trace read_length_samples(const std::filesystem::path& path, TraceFormat format);

}  // namespace flowkv::traces::detail
