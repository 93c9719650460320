// Readers for the CSV trace formats: Azure LLM inference (2023/2024), Vidur, BurstGPT.
//
// Columns are found by their header names, so extra columns and other column orders (BurstGPT's
// variant with Session ID and Elapsed time) need no special case.
#include <string>
#include <string_view>
#include <vector>

#include "traces/readers.h"
#include "traces/text_scan.h"

namespace flowkv::traces::detail {
namespace {

constexpr std::string_view kCount = "a non-negative integer";

class CsvTable {
 public:
  CsvTable(std::string_view text, RowSink& sink, const char* format_name)
      : lines_(text), sink_(sink), format_name_(format_name) {
    std::string_view line;
    while (lines_.next(line)) {
      if (trim(line).empty()) continue;
      if (!split_csv(line, header_))
        fail_line(sink.file(), lines_.line_number(), "unterminated quote in the header");
      for (auto& name : header_) name = trim(name);
      header_line_ = line;
      return;
    }
    core_empty();
  }

  // Index of a required column; an input error naming the header otherwise.
  size_t column(std::string_view name) const {
    for (size_t i = 0; i < header_.size(); ++i) {
      if (header_[i] == name) return i;
    }
    fail_line(sink_.file(), 1,
              "missing column '" + std::string(name) + "' for a " + format_name_ +
                  " trace (header: '" + excerpt(header_line_) + "')");
  }
  bool has_column(std::string_view name) const {
    for (const auto& h : header_) {
      if (h == name) return true;
    }
    return false;
  }

  // Next data row split into fields; false at the end. Blank lines are not rows.
  bool next(std::vector<std::string_view>& fields) {
    std::string_view line;
    while (lines_.next(line)) {
      if (trim(line).empty()) continue;
      if (!split_csv(line, fields))
        fail_line(sink_.file(), lines_.line_number(), "unterminated quoted field");
      if (fields.size() != header_.size()) {
        fail_line(sink_.file(), lines_.line_number(),
                  "expected " + std::to_string(header_.size()) + " columns as in the header, got " +
                      std::to_string(fields.size()) + " in '" + excerpt(line) + "'");
      }
      return true;
    }
    return false;
  }
  int64_t line() const { return lines_.line_number(); }

 private:
  [[noreturn]] void core_empty() const {
    fail_line(sink_.file(), 1,
              std::string("empty file: expected a ") + format_name_ + " header line");
  }

  LineReader lines_;
  RowSink& sink_;
  const char* format_name_;
  std::vector<std::string_view> header_;
  std::string_view header_line_;
};

int64_t count_field(const CsvTable& table, const RowSink& sink, std::string_view column,
                    std::string_view value) {
  int64_t n = 0;
  if (!parse_count(value, n)) fail_field(sink.file(), table.line(), column, kCount, value);
  return n;
}

bool contains_fail(std::string_view s) {
  for (size_t i = 0; i + 4 <= s.size(); ++i) {
    if ((s[i] | 0x20) == 'f' && (s[i + 1] | 0x20) == 'a' && (s[i + 2] | 0x20) == 'i' &&
        (s[i + 3] | 0x20) == 'l') {
      return true;
    }
  }
  return false;
}

}  // namespace

void read_azure(std::string_view text, RowSink& sink) {
  CsvTable table(text, sink, "Azure");
  const size_t t = table.column("TIMESTAMP");
  const size_t in = table.column("ContextTokens");
  const size_t out = table.column("GeneratedTokens");
  std::vector<std::string_view> f;
  while (table.next(f)) {
    int64_t ns = 0;
    if (!parse_wallclock_ns(f[t], ns)) {
      fail_field(sink.file(), table.line(), "TIMESTAMP",
                 "a date and time like '2023-11-16 18:15:46.6805900'", f[t]);
    }
    const int64_t prompt = count_field(table, sink, "ContextTokens", f[in]);
    const int64_t output = count_field(table, sink, "GeneratedTokens", f[out]);
    sink.add(table.line(), f[t], ns, prompt, output);
  }
}

void read_vidur(std::string_view text, RowSink& sink) {
  CsvTable table(text, sink, "Vidur");
  const size_t t = table.column("arrived_at");
  const size_t in = table.column("num_prefill_tokens");
  const size_t out = table.column("num_decode_tokens");
  std::vector<std::string_view> f;
  while (table.next(f)) {
    int64_t ns = 0;
    if (!parse_decimal_ns(f[t], 9, ns)) {
      fail_field(sink.file(), table.line(), "arrived_at", "a time in seconds", f[t]);
    }
    const int64_t prompt = count_field(table, sink, "num_prefill_tokens", f[in]);
    const int64_t output = count_field(table, sink, "num_decode_tokens", f[out]);
    sink.add(table.line(), f[t], ns, prompt, output);
  }
}

void read_vidur_lengths(std::string_view text, RowSink& sink) {
  CsvTable table(text, sink, "Vidur lengths");
  const size_t in = table.column("num_prefill_tokens");
  const size_t out = table.column("num_decode_tokens");
  std::vector<std::string_view> f;
  while (table.next(f)) {
    const int64_t prompt = count_field(table, sink, "num_prefill_tokens", f[in]);
    const int64_t output = count_field(table, sink, "num_decode_tokens", f[out]);
    sink.add(table.line(), "", 0, prompt, output);
  }
}

void read_burstgpt(std::string_view text, RowSink& sink) {
  CsvTable table(text, sink, "BurstGPT");
  const size_t t = table.column("Timestamp");
  const size_t in = table.column("Request tokens");
  const size_t out = table.column("Response tokens");
  const bool has_log_type = table.has_column("Log Type");
  const size_t log_type = has_log_type ? table.column("Log Type") : 0;
  std::vector<std::string_view> f;
  while (table.next(f)) {
    int64_t ns = 0;
    if (!parse_decimal_ns(f[t], 9, ns)) {
      fail_field(sink.file(), table.line(), "Timestamp", "a time in seconds", f[t]);
    }
    const int64_t prompt = count_field(table, sink, "Request tokens", f[in]);
    const int64_t output = count_field(table, sink, "Response tokens", f[out]);
    // BurstGPT logs failed calls too: their Response tokens are 0 (RowSink counts those as
    // zero_output_tokens); a log type naming a failure is skipped whatever its counts.
    if (has_log_type && contains_fail(f[log_type])) {
      sink.skip(kSkipFailureLogType);
      continue;
    }
    sink.add(table.line(), f[t], ns, prompt, output);
  }
}

}  // namespace flowkv::traces::detail
