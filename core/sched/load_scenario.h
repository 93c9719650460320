// Loading a scenario against the registered policies.
//
// core/spec/scenario.h parses and validates what a scenario says about the cluster, model, KV
// pool, workload, SLOs and faults; only the policies know their own parameters, and a global
// policy may imply settings of its system (its profile, core/sched/policy_profile.h). This is
// the one entry point that does all of it, so every command and test loads scenarios the same
// way:
//
//   read_scenario_json -> apply_overrides (flags, --set, the policy's profile, --fault)
//                      -> parse_scenario (spec + each policy built once to check it)
//
// An unknown policy name or a bad parameter is an input error naming its JSON path.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "core/spec/scenario.h"

namespace flowkv::core {

// The shorthand flags, then every --set in the order given, then the global policy's profile
// (leaving what a --set pinned), then the --fault texts.
void apply_overrides(nlohmann::json& root, const ScenarioOverrides& overrides);

// Validates and resolves. `source` names the scenario in errors that are not about one key.
Scenario parse_scenario(const nlohmann::json& root, const std::string& source,
                        const std::filesystem::path& base_dir);

// find_scenario_file + read + overrides + parse.
Scenario load_scenario(const std::filesystem::path& path, const ScenarioOverrides& overrides = {});

}  // namespace flowkv::core
