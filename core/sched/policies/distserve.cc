// "distserve": DistServe-style static placement. The placement fixes which decode node each
// prefill node hands its requests to: the i-th node placed as prefill (scenario order) pairs with
// the (i mod #D)-th node placed as decode, as DistServe co-locates a prefill and a decode instance
// of one model stage on one machine so their KV moves over NVLink. A request goes to the prefill
// node with the fewest queued prompt tokens (DistServe's shortest-queue dispatch) and then to that
// node's partner; only when the partner cannot take it (too small, not routable) does it go to the
// decode node with the fewest outstanding tokens.
//
// Profile: static roles (DistServe re-plans placement offline, never at run time).
#include <vector>

#include "core/base/json_check.h"
#include "core/sched/global_scheduler.h"
#include "core/sched/policy_profile.h"
#include "core/spec/scenario.h"

namespace flowkv::core {
namespace {

class DistServe final : public GlobalScheduler {
 public:
  explicit DistServe(const Scenario& s) {
    std::vector<NodeId> placed_prefill, placed_decode;
    for (size_t i = 0; i < s.nodes.size(); ++i) {
      const NodeId id{static_cast<uint32_t>(i)};
      if (s.nodes[i].role == NodeRole::kPrefill) placed_prefill.push_back(id);
      if (s.nodes[i].role == NodeRole::kDecode) placed_decode.push_back(id);
    }
    partner_.assign(s.nodes.size(), std::nullopt);
    for (size_t k = 0; k < placed_prefill.size() && !placed_decode.empty(); ++k) {
      partner_[to_int(placed_prefill[k])] = placed_decode[k % placed_decode.size()];
    }
  }

  RouteDecision route(const Request&, const LoadSnapshot& s) override {
    const NodeId p = *pick_min(s, true, [](const NodeLoad& n) {
      return n.queued_prefill_tokens + (n.role == NodeRole::kColocated ? n.assigned_decode_tokens : 0);
    });
    const std::optional<NodeId> partner = partner_[to_int(p)];
    if (partner && s.nodes[to_int(*partner)].eligible_decode) return pair_with(s, p, *partner);
    const NodeId d = *pick_min(s, false, [](const NodeLoad& n) {
      return std::make_pair(n.assigned_decode_tokens, n.queued_prefill_tokens);
    });
    return pair_with(s, p, d);
  }

 private:
  std::vector<std::optional<NodeId>> partner_;  // by prefill node id, from the placement
};

FLOWKV_REGISTER_GLOBAL_SCHEDULER("distserve", "DistServe: static placement, each prefill node with a fixed decode partner",
                                 [](const PolicyContext& c) -> std::unique_ptr<GlobalScheduler> {
                                   jcheck::check_no_params(c.params, c.json_path);
                                   return std::make_unique<DistServe>(c.scenario);
                                 });

FLOWKV_REGISTER_POLICY_PROFILE("distserve", "static roles", [](ProfileEditor& e) { e.set_role_policy("static"); });

}  // namespace
}  // namespace flowkv::core
