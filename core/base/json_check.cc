#include "core/base/json_check.h"

#include <cmath>
#include <cstdio>

#include "core/base/error.h"

namespace flowkv::core::jcheck {

using nlohmann::json;

namespace {

std::string shown(const json& got) {
  std::string s = got.dump();
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

template <typename List>
void check_keys(const json& j, const std::string& path, const List& allowed) {
  if (!j.is_object()) fail(path, "an object", j);
  for (const auto& [key, value] : j.items()) {
    bool ok = false;
    for (const auto& a : allowed) ok = ok || key == a;
    if (!ok) {
      std::string known;
      for (const auto& a : allowed) known += (known.empty() ? "" : ", ") + std::string(a);
      throw_input_error((path.empty() ? key : path + "." + key) + ": unknown key (known: " + known + ")");
    }
  }
}

}  // namespace

void fail(const std::string& path, const std::string& expected, const json& got) {
  throw_input_error(path + ": expected " + expected + ", got " + shown(got));
}

void check_object(const json& j, const std::string& path, std::initializer_list<const char*> allowed) {
  check_keys(j, path, allowed);
}

void check_object(const json& j, const std::string& path, const std::vector<std::string>& allowed) {
  check_keys(j, path, allowed);
}

void check_no_params(const json& params, const std::string& path) {
  if (!params.is_object()) fail(path, "an object", params);
  if (!params.empty()) {
    throw_input_error(path + "." + params.begin().key() + ": unknown key (this policy takes no parameters)");
  }
}

const json* member(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

double number(const json& v, const std::string& path) {
  if (!v.is_number()) fail(path, "a number", v);
  const double d = v.get<double>();
  if (!std::isfinite(d)) fail(path, "a finite number", v);
  return d;
}

double positive(const json& v, const std::string& path) {
  if (!v.is_number() || !(v.get<double>() > 0) || !std::isfinite(v.get<double>())) {
    fail(path, "a positive number", v);
  }
  return v.get<double>();
}

double non_negative(const json& v, const std::string& path) {
  if (!v.is_number() || !(v.get<double>() >= 0) || !std::isfinite(v.get<double>())) {
    fail(path, "a number >= 0", v);
  }
  return v.get<double>();
}

double number_in(const json& v, const std::string& path, double lo, double hi) {
  if (!v.is_number() || !(v.get<double>() >= lo && v.get<double>() <= hi)) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "a number in [%g, %g]", lo, hi);
    fail(path, buf, v);
  }
  return v.get<double>();
}

int64_t integer(const json& v, const std::string& path, int64_t min_value) {
  const std::string expected = "an integer >= " + std::to_string(min_value);
  int64_t value = 0;
  if (v.is_number_integer()) {
    value = v.get<int64_t>();
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) fail(path, expected, v);
  } else if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9e15) fail(path, expected, v);
    value = static_cast<int64_t>(d);
  } else {
    fail(path, expected, v);
  }
  if (value < min_value) fail(path, expected, v);
  return value;
}

std::string string(const json& v, const std::string& path) {
  if (!v.is_string()) fail(path, "a string", v);
  return v.get<std::string>();
}

bool boolean(const json& v, const std::string& path) {
  if (!v.is_boolean()) fail(path, "true or false", v);
  return v.get<bool>();
}

std::string policy_name(const json& v, const std::string& path, const std::string& fallback, json& params) {
  params = json::object();
  if (v.is_string()) return v.get<std::string>();
  if (!v.is_object()) fail(path, "a policy name or an object {\"name\": ..., parameters}", v);
  const json* name = member(v, "name");
  for (const auto& [key, value] : v.items()) {
    if (key != "name") params[key] = value;
  }
  return name ? string(*name, path + ".name") : fallback;
}

}  // namespace flowkv::core::jcheck
