// "static" role controller: roles stay as the scenario sets them; no timer is ever armed.
#include "core/base/json_check.h"
#include "core/sched/role_controller.h"

namespace flowkv::core {
namespace {

class StaticRoles final : public RoleController {
 public:
  Duration period() const override { return Duration::zero(); }
  void decide(const LoadSnapshot&, std::vector<RoleChange>&) override {}
};

FLOWKV_REGISTER_ROLE_CONTROLLER("static", "roles never change",
                                [](const PolicyContext& c) -> std::unique_ptr<RoleController> {
                                  jcheck::check_no_params(c.params, c.json_path);
                                  return std::make_unique<StaticRoles>();
                                });

}  // namespace
}  // namespace flowkv::core
