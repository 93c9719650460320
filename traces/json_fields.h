// Typed access to JSON members with errors that name the JSON path (internal to traces/):
//   workload.generator.arrival.rate: expected a positive number, got -1
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>

namespace flowkv::traces::detail {

[[noreturn]] void json_fail(const std::string& path, const std::string& expected,
                            const nlohmann::json& got);

// `j` must be an object whose keys are all in `allowed`.
void check_object(const nlohmann::json& j, const std::string& path,
                  std::initializer_list<const char*> allowed);

const nlohmann::json* member(const nlohmann::json& obj, const char* key);

double json_number(const nlohmann::json& v, const std::string& path);
double json_positive(const nlohmann::json& v, const std::string& path);
// An integer >= min_value (an integral float such as 1000.0 is accepted).
int64_t json_integer(const nlohmann::json& v, const std::string& path, int64_t min_value);
std::string json_string(const nlohmann::json& v, const std::string& path);

}  // namespace flowkv::traces::detail
