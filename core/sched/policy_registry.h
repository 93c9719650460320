// PolicyRegistry: policies of one kind (global schedulers, batch schedulers, role controllers)
// registered by name, so that adding a policy is adding one file under core/sched/policies/.
//
// A policy file registers a factory from a static object (FLOWKV_REGISTER_POLICY). The static
// library is linked whole (core/CMakeLists.txt) so that these objects are never dropped. Lookups
// happen after static initialisation and only read the registry, so several runs may look up
// policies from several threads at once. An unknown name is an input error naming the JSON path
// and listing the known names.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/error.h"

namespace flowkv::core {

struct Scenario;

// What a factory gets: the whole (validated) scenario, the policy's own parameters (the JSON
// object without "name") and where they came from, for error messages.
struct PolicyContext {
  const Scenario& scenario;
  const nlohmann::json& params;
  const std::string& json_path;
};

template <typename Policy>
class PolicyRegistry {
 public:
  using Factory = std::function<std::unique_ptr<Policy>(const PolicyContext&)>;
  struct Entry {
    std::string summary;
    Factory make;
  };

  void add(const std::string& name, const std::string& summary, Factory make) {
    entries_[name] = Entry{summary, std::move(make)};
  }

  std::unique_ptr<Policy> make(const std::string& name, const PolicyContext& context) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) {
      std::string known;
      for (const auto& [n, e] : entries_) known += (known.empty() ? "" : ", ") + n;
      throw_input_error(context.json_path + ": unknown " + kind_ + " '" + name + "' (known: " + known + ")");
    }
    return it->second.make(context);
  }

  std::vector<std::pair<std::string, std::string>> list() const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [n, e] : entries_) out.emplace_back(n, e.summary);
    return out;
  }

  explicit PolicyRegistry(std::string kind) : kind_(std::move(kind)) {}

 private:
  std::string kind_;
  std::map<std::string, Entry> entries_;
};

template <typename Policy>
struct PolicyRegistrar {
  PolicyRegistrar(PolicyRegistry<Policy>& registry, const std::string& name, const std::string& summary,
                  typename PolicyRegistry<Policy>::Factory make) {
    registry.add(name, summary, std::move(make));
  }
};

#define FLOWKV_POLICY_CONCAT_INNER(a, b) a##b
#define FLOWKV_POLICY_CONCAT(a, b) FLOWKV_POLICY_CONCAT_INNER(a, b)
// FLOWKV_REGISTER_POLICY(GlobalScheduler, global_scheduler_registry(), "round-robin", "...", factory)
#define FLOWKV_REGISTER_POLICY(Policy, registry, name, summary, factory)               \
  static const ::flowkv::core::PolicyRegistrar<Policy> FLOWKV_POLICY_CONCAT(           \
      flowkv_policy_registrar_, __LINE__)(registry, name, summary, factory)

}  // namespace flowkv::core
