// RoleController: every period, may change what nodes do: flip a node between prefill and
// decode, or let a standby node join (or a node leave) the routable set.
//
// The controller calls decide() on a timer of period() (never when the period is zero) with a
// fresh LoadSnapshot. For each RoleChange it waits until the node's current iteration ends,
// submits a RoleFlip with the change's cost (cost_model.role_flip_ms, or node_startup_s for a
// node joining, unless the change says), and applies the new role when the flip completes. A
// node keeps serving what it already holds after a flip (its one KV pool is shared by both
// roles, so nothing moves); only routing changes. Counted separately: role flips (the role of a
// routable node changes), elastic joins (a node becomes routable) and leaves (stops being).
//
// Policies: "static" (never changes anything) here; FlowKV's threshold policy and others are one
// file each in core/sched/policies/, registered with FLOWKV_REGISTER_ROLE_CONTROLLER.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "core/base/time.h"
#include "core/sched/load_snapshot.h"
#include "core/sched/policy_registry.h"

namespace flowkv::core {

struct Scenario;

struct RoleChange {
  NodeId node{};
  NodeRole role = NodeRole::kPrefill;
  bool routable = true;  // false: the node leaves (finishes what it holds, takes nothing new)
  // How long the node runs nothing while it changes; when unset, cost_model.node_startup_s for
  // a node joining and cost_model.role_flip_ms for any other change.
  std::optional<Duration> cost;
};

class RoleController {
 public:
  virtual ~RoleController() = default;
  virtual Duration period() const = 0;
  virtual void decide(const LoadSnapshot& snapshot, std::vector<RoleChange>& changes) = 0;
};

PolicyRegistry<RoleController>& role_controller_registry();
std::unique_ptr<RoleController> make_role_controller(const Scenario& scenario);

#define FLOWKV_REGISTER_ROLE_CONTROLLER(name, summary, factory)                                 \
  FLOWKV_REGISTER_POLICY(::flowkv::core::RoleController, ::flowkv::core::role_controller_registry(), \
                         name, summary, factory)

}  // namespace flowkv::core
