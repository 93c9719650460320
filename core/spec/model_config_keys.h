// Internal to core/spec: reading a config.json's keys with errors that name the file and the key,
// and the table of every key FlowKV knows (model_config_keys.cc). Not a public header.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/spec/model_spec.h"

namespace flowkv::core::detail {

// Typed reads of one JSON object of a config; `prefix` names nested objects
// ("quantization_config.") in messages.
class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& root, const std::string& source, std::string prefix = "")
      : root_(root), source_(source), prefix_(std::move(prefix)) {}

  [[noreturn]] void fail(const std::string& key, const std::string& expected) const;
  bool has(const std::string& key) const { return root_.contains(key) && !root_.at(key).is_null(); }
  const nlohmann::json& at(const std::string& key) const { return root_.at(key); }
  const std::string& source() const { return source_; }
  std::string path(const std::string& key) const { return prefix_ + key; }

  int64_t positive_int(const std::string& key, int64_t max) const;
  int32_t positive_int32(const std::string& key) const;
  int32_t non_negative_int32(const std::string& key, int32_t fallback) const;
  bool boolean(const std::string& key, bool fallback) const;
  double positive_number(const std::string& key, double fallback) const;
  std::string string(const std::string& key, const std::string& fallback) const;

 private:
  const nlohmann::json& root_;
  const std::string& source_;
  std::string prefix_;
};

// Refuses a key of `root` that changes memory or compute and is not modelled, or that FlowKV
// does not know, unless `options` accepts it; an accepted one is added to m.unmodelled.
void check_config_keys(const nlohmann::json& root, const std::string& source,
                       const ModelReadOptions& options, ModelSpec& m);
// The same for the keys of quantization_config.
void check_quantization_keys(const nlohmann::json& q, const std::string& source,
                             const ModelReadOptions& options, ModelSpec& m);
// An input error for `key` (a config key, or "quantization_config.x") that is not modelled,
// unless accepted: then it is recorded in m.unmodelled and the reader goes on.
void unmodelled(const std::string& key, const std::string& why, const std::string& source,
                const ModelReadOptions& options, ModelSpec& m);

}  // namespace flowkv::core::detail
