#include "core/sched/role_controller.h"

#include "core/spec/scenario.h"

namespace flowkv::core {

PolicyRegistry<RoleController>& role_controller_registry() {
  static PolicyRegistry<RoleController> registry("role controller");
  return registry;
}

std::unique_ptr<RoleController> make_role_controller(const Scenario& scenario) {
  const PolicyContext context{scenario, scenario.role.params, scenario.role.json_path};
  return role_controller_registry().make(scenario.role.name, context);
}

}  // namespace flowkv::core
