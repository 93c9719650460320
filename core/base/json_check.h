// Typed access to JSON members for scenario and policy parameters, with errors that name the
// JSON path and what was expected:
//   cluster.nodes[1].count: expected an integer >= 1, got "two"
// Every failure is an input error (exit 2). Policies of core/sched/policies/ read their parameters with
// these too, so that a typo in any part of a scenario is caught the same way.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace flowkv::core::jcheck {

[[noreturn]] void fail(const std::string& path, const std::string& expected,
                       const nlohmann::json& got);

// `j` must be an object whose keys are all in `allowed` (an unknown key is an error naming it
// and listing the allowed ones, to catch typos).
void check_object(const nlohmann::json& j, const std::string& path,
                  std::initializer_list<const char*> allowed);
void check_object(const nlohmann::json& j, const std::string& path,
                  const std::vector<std::string>& allowed);

// A policy that takes no parameters: `params` must be an empty object.
void check_no_params(const nlohmann::json& params, const std::string& path);

// The member or nullptr (j must be an object).
const nlohmann::json* member(const nlohmann::json& j, const char* key);

double number(const nlohmann::json& v, const std::string& path);
double positive(const nlohmann::json& v, const std::string& path);
double non_negative(const nlohmann::json& v, const std::string& path);
// In [lo, hi].
double number_in(const nlohmann::json& v, const std::string& path, double lo, double hi);
// An integer >= min_value (an integral float such as 1000.0 is accepted).
int64_t integer(const nlohmann::json& v, const std::string& path, int64_t min_value);
std::string string(const nlohmann::json& v, const std::string& path);
bool boolean(const nlohmann::json& v, const std::string& path);

// A policy given as "name" or {"name": "...", ...params}: returns the name (`fallback` when the
// object has none); `params` receives the object without "name" (empty for a plain string).
std::string policy_name(const nlohmann::json& v, const std::string& path, const std::string& fallback,
                        nlohmann::json& params);

}  // namespace flowkv::core::jcheck
