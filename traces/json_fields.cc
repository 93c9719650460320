#include "traces/json_fields.h"

#include <cmath>

#include "core/base/error.h"

namespace flowkv::traces::detail {

void json_fail(const std::string& path, const std::string& expected, const nlohmann::json& got) {
  std::string shown = got.dump();
  if (shown.size() > 60) shown = shown.substr(0, 57) + "...";
  core::throw_input_error(path + ": expected " + expected + ", got " + shown);
}

void check_object(const nlohmann::json& j, const std::string& path,
                  std::initializer_list<const char*> allowed) {
  if (!j.is_object()) json_fail(path, "an object", j);
  for (const auto& item : j.items()) {
    bool known = false;
    for (const char* a : allowed) known = known || item.key() == a;
    if (!known) {
      std::string names;
      for (const char* a : allowed) names += std::string(names.empty() ? "" : ", ") + a;
      core::throw_input_error(path + ": unknown key '" + item.key() +
                              "' (expected one of: " + names + ")");
    }
  }
}

const nlohmann::json* member(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

double json_number(const nlohmann::json& v, const std::string& path) {
  if (!v.is_number()) json_fail(path, "a number", v);
  const double d = v.get<double>();
  if (!std::isfinite(d)) json_fail(path, "a finite number", v);
  return d;
}

double json_positive(const nlohmann::json& v, const std::string& path) {
  if (!v.is_number() || !(v.get<double>() > 0.0) || !std::isfinite(v.get<double>())) {
    json_fail(path, "a positive number", v);
  }
  return v.get<double>();
}

int64_t json_integer(const nlohmann::json& v, const std::string& path, int64_t min_value) {
  const std::string expected = min_value == 0   ? "a non-negative integer"
                               : min_value == 1 ? "a positive integer"
                                                : "an integer >= " + std::to_string(min_value);
  int64_t n = 0;
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      json_fail(path, expected, v);
    }
    n = v.get<int64_t>();
  } else if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!(std::fabs(d) < 9e18) || d != std::floor(d)) json_fail(path, expected, v);
    n = static_cast<int64_t>(d);
  } else {
    json_fail(path, expected, v);
  }
  if (n < min_value) json_fail(path, expected, v);
  return n;
}

std::string json_string(const nlohmann::json& v, const std::string& path) {
  if (!v.is_string()) json_fail(path, "a string", v);
  return v.get<std::string>();
}

}  // namespace flowkv::traces::detail
