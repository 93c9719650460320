#include "traces/jsonl_scan.h"

#include <charconv>

namespace flowkv::traces::detail {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

size_t skip_space(std::string_view s, size_t pos) {
  while (pos < s.size() && is_space(s[pos])) ++pos;
  return pos;
}

// s[pos] is the opening quote; returns the index of the closing quote or npos.
size_t string_end(std::string_view s, size_t pos) {
  for (size_t i = pos + 1; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i;
    }
  }
  return std::string_view::npos;
}

// s[pos] is '[' or '{'; returns the index of the matching bracket or npos.
size_t container_end(std::string_view s, size_t pos) {
  int depth = 0;
  for (size_t i = pos; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '"') {
      i = string_end(s, i);
      if (i == std::string_view::npos) return i;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      if (--depth == 0) return i;
    }
  }
  return std::string_view::npos;
}

bool set_error(std::string& error, const char* what, size_t pos) {
  error = std::string(what) + " at character " + std::to_string(pos + 1);
  return false;
}

}  // namespace

bool scan_json_object(std::string_view s, std::vector<JsonMember>& members, std::string& error) {
  members.clear();
  size_t pos = skip_space(s, 0);
  if (pos >= s.size() || s[pos] != '{') return set_error(error, "expected '{'", pos);
  pos = skip_space(s, pos + 1);
  if (pos < s.size() && s[pos] == '}') {
    pos = skip_space(s, pos + 1);
    return pos == s.size() ? true : set_error(error, "text after the object", pos);
  }
  for (;;) {
    if (pos >= s.size() || s[pos] != '"') return set_error(error, "expected a key in quotes", pos);
    const size_t key_end = string_end(s, pos);
    if (key_end == std::string_view::npos) return set_error(error, "unterminated key", pos);
    JsonMember member;
    member.key = s.substr(pos + 1, key_end - pos - 1);
    pos = skip_space(s, key_end + 1);
    if (pos >= s.size() || s[pos] != ':') return set_error(error, "expected ':'", pos);
    pos = skip_space(s, pos + 1);
    if (pos >= s.size()) return set_error(error, "expected a value", pos);
    const char c = s[pos];
    size_t value_end = 0;  // one past the value
    if (c == '"') {
      const size_t end = string_end(s, pos);
      if (end == std::string_view::npos) return set_error(error, "unterminated string", pos);
      member.kind = JsonKind::kString;
      member.raw = s.substr(pos + 1, end - pos - 1);
      value_end = end + 1;
    } else if (c == '[' || c == '{') {
      const size_t end = container_end(s, pos);
      if (end == std::string_view::npos)
        return set_error(error, "unterminated array or object", pos);
      member.kind = c == '[' ? JsonKind::kArray : JsonKind::kObject;
      member.raw = s.substr(pos, end - pos + 1);
      value_end = end + 1;
    } else {
      size_t end = pos;
      while (end < s.size() && s[end] != ',' && s[end] != '}' && !is_space(s[end])) ++end;
      member.raw = s.substr(pos, end - pos);
      if (member.raw.empty()) return set_error(error, "expected a value", pos);
      member.kind = (c == '-' || (c >= '0' && c <= '9')) ? JsonKind::kNumber : JsonKind::kLiteral;
      if (member.kind == JsonKind::kLiteral && member.raw != "true" && member.raw != "false" &&
          member.raw != "null") {
        return set_error(error, "unexpected value", pos);
      }
      value_end = end;
    }
    members.push_back(member);
    pos = skip_space(s, value_end);
    if (pos >= s.size()) return set_error(error, "unterminated object", pos);
    if (s[pos] == ',') {
      pos = skip_space(s, pos + 1);
      continue;
    }
    if (s[pos] != '}') return set_error(error, "expected ',' or '}'", pos);
    pos = skip_space(s, pos + 1);
    return pos == s.size() ? true : set_error(error, "text after the object", pos);
  }
}

const JsonMember* find_member(const std::vector<JsonMember>& members, std::string_view key) {
  for (const JsonMember& m : members) {
    if (m.key == key) return &m;
  }
  return nullptr;
}

bool parse_uint_array(std::string_view raw, std::vector<uint64_t>& values) {
  values.clear();
  if (raw.size() < 2 || raw.front() != '[' || raw.back() != ']') return false;
  const char* p = raw.data() + 1;
  const char* end = raw.data() + raw.size() - 1;
  auto skip = [&] {
    while (p < end && is_space(*p)) ++p;
  };
  skip();
  if (p == end) return true;
  for (;;) {
    uint64_t v = 0;
    auto [next, ec] = std::from_chars(p, end, v);
    if (ec != std::errc()) return false;
    values.push_back(v);
    p = next;
    skip();
    if (p == end) return true;
    if (*p != ',') return false;
    ++p;
    skip();
  }
}

}  // namespace flowkv::traces::detail
