// Readers for the JSON Lines trace formats: Mooncake, LLMServingSim, APEX.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "traces/jsonl_scan.h"
#include "traces/prefix_hash.h"
#include "traces/readers.h"
#include "traces/text_scan.h"

namespace flowkv::traces::detail {
namespace {

// Walks the non-blank lines of a JSONL file, scanning each into members.
class JsonlRows {
 public:
  JsonlRows(std::string_view text, RowSink& sink) : lines_(text), sink_(sink) {}

  bool next() {
    std::string_view line;
    while (lines_.next(line)) {
      if (trim(line).empty()) continue;
      if (!scan_json_object(line, members_, error_)) {
        fail_line(sink_.file(), lines_.line_number(),
                  "malformed JSON (" + error_ + "): '" + excerpt(line) + "'");
      }
      return true;
    }
    return false;
  }
  int64_t line() const { return lines_.line_number(); }

  const JsonMember& require(std::string_view key) const {
    const JsonMember* m = find_member(members_, key);
    if (!m) {
      fail_line(sink_.file(), line(),
                "column " + std::string(key) + ": missing (every row needs it)");
    }
    return *m;
  }
  const JsonMember* optional(std::string_view key) const { return find_member(members_, key); }

  // The value as the user wrote it, for error messages (strings get their quotes back).
  static std::string shown(const JsonMember& m) {
    std::string s;
    if (m.kind == JsonKind::kString) s += '"';
    s += m.raw;
    if (m.kind == JsonKind::kString) s += '"';
    return s;
  }

  int64_t count(std::string_view key) const {
    const JsonMember& m = require(key);
    int64_t n = 0;
    if (m.kind != JsonKind::kNumber || !parse_count(m.raw, n)) {
      fail_field(sink_.file(), line(), key, "a non-negative integer", shown(m));
    }
    return n;
  }
  // A time in the unit 10^-unit_exp10 s, as integer nanoseconds.
  int64_t time_ns(std::string_view key, int unit_exp10, std::string_view unit) const {
    const JsonMember& m = require(key);
    int64_t ns = 0;
    if (m.kind != JsonKind::kNumber || !parse_decimal_ns(m.raw, unit_exp10, ns)) {
      fail_field(sink_.file(), line(), key, "a number of " + std::string(unit), shown(m));
    }
    return ns;
  }
  // An optional array of non-negative integers (empty when absent or null).
  bool uint_array(std::string_view key, std::vector<uint64_t>& values) const {
    values.clear();
    const JsonMember* m = optional(key);
    if (!m || m->raw == "null") return false;
    if (m->kind != JsonKind::kArray || !parse_uint_array(m->raw, values)) {
      fail_field(sink_.file(), line(), key, "an array of non-negative integers", shown(*m));
    }
    return true;
  }

 private:
  LineReader lines_;
  RowSink& sink_;
  std::vector<JsonMember> members_;
  std::string error_;
};

}  // namespace

void read_mooncake(std::string_view text, RowSink& sink) {
  JsonlRows rows(text, sink);
  while (rows.next()) {
    const int64_t ns = rows.time_ns("timestamp", 6, "milliseconds");
    const int64_t prompt = rows.count("input_length");
    const int64_t output = rows.count("output_length");
    std::vector<uint64_t> hashes;
    rows.uint_array("hash_ids", hashes);
    sink.add(rows.line(), rows.require("timestamp").raw, ns, prompt, output, std::move(hashes));
  }
}

void read_llmservingsim(std::string_view text, RowSink& sink) {
  JsonlRows rows(text, sink);
  std::vector<uint64_t> token_ids;
  while (rows.next()) {
    const int64_t ns = rows.time_ns("arrival_time_ns", 0, "nanoseconds");
    const int64_t prompt = rows.count("input_toks");
    const int64_t output = rows.count("output_toks");
    std::vector<uint64_t> hashes;
    std::vector<int32_t> ids;
    if (rows.uint_array("input_tok_ids", token_ids)) {
      if (static_cast<int64_t>(token_ids.size()) != prompt) {
        fail_line(sink.file(), rows.line(),
                  "column input_tok_ids: holds " + std::to_string(token_ids.size()) +
                      " token ids but input_toks is " + std::to_string(prompt));
      }
      hashes = hash_token_blocks(token_ids);
      ids.reserve(token_ids.size());
      for (const uint64_t t : token_ids) {
        if (t > static_cast<uint64_t>(INT32_MAX)) {
          fail_line(sink.file(), rows.line(), "column input_tok_ids: token id " + std::to_string(t) +
                                                  " is larger than 2147483647");
        }
        ids.push_back(static_cast<int32_t>(t));
      }
    }
    sink.add(rows.line(), rows.require("arrival_time_ns").raw, ns, prompt, output,
             std::move(hashes), std::move(ids));
  }
}

void read_apex(std::string_view text, RowSink& sink) {
  JsonlRows rows(text, sink);
  while (rows.next()) {
    const int64_t ns = rows.time_ns("StartTimeOffset", 0, "nanoseconds");
    const int64_t prompt = rows.count("ContextTokens");
    const int64_t output = rows.count("GeneratedTokens");
    sink.add(rows.line(), rows.require("StartTimeOffset").raw, ns, prompt, output);
  }
}

}  // namespace flowkv::traces::detail
