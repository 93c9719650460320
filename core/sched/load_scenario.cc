#include "core/sched/load_scenario.h"

#include "core/sched/batch_scheduler.h"
#include "core/sched/global_scheduler.h"
#include "core/sched/policy_profile.h"
#include "core/sched/recovery.h"
#include "core/sched/role_controller.h"

namespace flowkv::core {

namespace fs = std::filesystem;

void apply_overrides(nlohmann::json& root, const ScenarioOverrides& overrides) {
  apply_flag_overrides(root, overrides);
  apply_policy_profile(root, overrides.sets);  // after the flags, leaving what --set pinned
  append_fault_overrides(root, overrides);
}

Scenario parse_scenario(const nlohmann::json& root, const std::string& source, const fs::path& base_dir) {
  Scenario s = parse_scenario_spec(root, source, base_dir);
  // Build each policy once so that an unknown name or a bad parameter is reported now, with
  // its JSON path, rather than when the run starts.
  (void)make_global_scheduler(s);
  (void)make_batch_scheduler(s);
  (void)make_role_controller(s);
  (void)make_recovery_policy(s);
  return s;
}

Scenario load_scenario(const fs::path& path, const ScenarioOverrides& overrides) {
  const fs::path file = find_scenario_file(path);
  nlohmann::json root = read_scenario_json(file);
  apply_overrides(root, overrides);
  if (!root.contains("name")) root["name"] = file.stem().string();
  return parse_scenario(root, file.string(), fs::absolute(file).parent_path());
}

}  // namespace flowkv::core
