// "colocated": vLLM without disaggregation. Every node prefills and decodes its own requests on
// one KV pool (no transfer); a request goes to a colocated node picked by `pick`:
//   "round-robin" (default): in turn, as a round-robin load balancer in front of vLLM replicas;
//   "least-loaded": the node with the fewest outstanding tokens (queued prompt + decode tokens).
// The policy needs colocated nodes; its profile makes every node group colocated, with vLLM's
// paged layout and free-list allocator, and static roles. With the profile turned off
// ("policies": {"profile": false}) on a cluster without colocated nodes it is an input error.
#include "core/base/error.h"
#include "core/base/json_check.h"
#include "core/sched/global_scheduler.h"
#include "core/sched/policy_profile.h"
#include "core/spec/scenario.h"

namespace flowkv::core {
namespace {

class Colocated final : public GlobalScheduler {
 public:
  explicit Colocated(bool least_loaded) : least_loaded_(least_loaded) {}

  RouteDecision route(const Request&, const LoadSnapshot& s) override {
    auto both = [](const NodeLoad& n) { return n.eligible_prefill && n.eligible_decode && n.role == NodeRole::kColocated; };
    std::optional<NodeId> pick;
    if (least_loaded_) {
      int64_t best = 0;
      for (const NodeLoad& n : s.nodes) {
        if (!both(n)) continue;
        const int64_t load = n.queued_prefill_tokens + n.assigned_decode_tokens;
        if (!pick || load < best) {
          pick = n.id;
          best = load;
        }
      }
    } else {
      const size_t count = s.nodes.size();
      for (size_t k = 0; k < count && !pick; ++k) {
        const NodeLoad& n = s.nodes[(cursor_ + k) % count];
        if (both(n)) {
          pick = n.id;
          cursor_ = (cursor_ + k + 1) % count;
        }
      }
    }
    if (!pick) {
      // No colocated node can take it (all too small or down): fall back to a disaggregated pair
      // so that the request is still served.
      const NodeId p = *pick_min(s, true, [](const NodeLoad& n) { return n.queued_prefill_tokens; });
      const NodeId d = *pick_min(s, false, [](const NodeLoad& n) { return n.assigned_decode_tokens; });
      return pair_with(s, p, d);
    }
    return pair_with(s, *pick, *pick);
  }

 private:
  bool least_loaded_;
  size_t cursor_ = 0;
};

std::unique_ptr<GlobalScheduler> make(const PolicyContext& c) {
  jcheck::check_object(c.params, c.json_path, {"pick"});
  bool least_loaded = false;
  if (const auto* v = jcheck::member(c.params, "pick")) {
    const std::string pick = jcheck::string(*v, c.json_path + ".pick");
    if (pick == "least-loaded") {
      least_loaded = true;
    } else if (pick != "round-robin") {
      jcheck::fail(c.json_path + ".pick", "\"round-robin\" or \"least-loaded\"", *v);
    }
  }
  bool any = false;
  for (const NodeSpec& n : c.scenario.nodes) any = any || n.role == NodeRole::kColocated;
  if (!any) {
    throw_input_error(c.json_path + ": policy 'colocated' needs colocated nodes; the cluster has none (its profile "
                      "makes every node colocated unless policies.profile is false)");
  }
  return std::make_unique<Colocated>(least_loaded);
}

FLOWKV_REGISTER_GLOBAL_SCHEDULER("colocated", "vLLM without disaggregation: each request on one colocated node", make);

FLOWKV_REGISTER_POLICY_PROFILE("colocated", "every node colocated, paged layout, free-list allocator, static roles",
                               [](ProfileEditor& e) {
                                 e.set_all_node_roles("colocated");
                                 e.set("kv.layout", "paged");
                                 e.set("kv.allocator", "freelist");
                                 e.set_role_policy("static");
                               });

}  // namespace
}  // namespace flowkv::core
