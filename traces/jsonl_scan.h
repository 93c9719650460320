// A small scanner for JSON Lines traces: one JSON object per line, read member by member.
//
// Trace readers need a few numbers and integer arrays per row, millions of rows a second; a
// full DOM parser spends most of its time building strings and maps we would throw away. This
// scanner finds the top-level members of one object and hands back each value's raw text, which
// the reader parses only for the keys it wants. It checks the structure (quotes, brackets,
// commas), not the full JSON grammar of values it skips: a reader that uses a value validates it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace flowkv::traces::detail {

enum class JsonKind { kNumber, kString, kArray, kObject, kLiteral };

struct JsonMember {
  std::string_view key;  // raw key text, without quotes (escapes left as written)
  JsonKind kind = JsonKind::kLiteral;
  std::string_view raw;  // numbers and literals as written; strings without quotes;
                         // arrays and objects including their brackets
};

// Splits `line` (one JSON object) into its top-level members. On malformed JSON returns false
// and sets `error` to a short description with the character offset.
bool scan_json_object(std::string_view line, std::vector<JsonMember>& members, std::string& error);

// The member named `key`, or nullptr.
const JsonMember* find_member(const std::vector<JsonMember>& members, std::string_view key);

// Parses "[1, 2, 3]" into non-negative integers; false on anything else in the array.
bool parse_uint_array(std::string_view raw, std::vector<uint64_t>& values);

}  // namespace flowkv::traces::detail
