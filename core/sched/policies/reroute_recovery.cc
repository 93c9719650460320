// "reroute" recovery policy (the default): keep every request a failure touches alive while a
// node can take it and its retry budget lasts; see core/sched/recovery.h.
//   queued / KV lost     re-prefill on the eligible prefill node with the fewest queued prefill
//                        tokens; keep the decode node when it is still eligible, else the
//                        eligible decode node with the fewest output tokens still to produce
//   decode node gone     redirect to the least-loaded eligible decode node
//   transfer failed      re-transfer to the least-loaded eligible decode node, another one than
//                        the failed transfer's when there is one; after
//                        reprefill_after_transfer_failures failed transfers of the same KV (its
//                        prefill node's link may be the problem) re-prefill on another prefill
//                        node instead
// Parameters under policies.recovery: reprefill_after_transfer_failures (integer >= 1,
// default 2). No eligible node: the request fails with no_routable_node.
#include <tuple>

#include "core/base/json_check.h"
#include "core/sched/global_scheduler.h"
#include "core/sched/recovery.h"

namespace flowkv::core {
namespace {

class RerouteRecovery final : public RecoveryPolicy {
 public:
  explicit RerouteRecovery(int64_t reprefill_after) : reprefill_after_(reprefill_after) {}

  RecoveryDecision decide(const RecoveryCase& c, const LoadSnapshot& s) override {
    const bool costs_work =
        c.situation == RecoverySituation::kTransferFailed || c.situation == RecoverySituation::kKvLost;
    if (costs_work && c.retries > c.max_retries) return fail(failure_reason(c.situation));
    switch (c.situation) {
      case RecoverySituation::kDecodeGone: {
        const std::optional<NodeId> d = least_loaded_decode(s, std::nullopt);
        return d ? redirect(*d) : fail(FailureReason::kNoRoutableNode);
      }
      case RecoverySituation::kTransferFailed:
        if (c.transfer_failures < reprefill_after_) {
          if (const std::optional<NodeId> d = least_loaded_decode(s, c.decode)) return redirect(*d);
        }
        return reprefill(c, s, c.prefill);
      case RecoverySituation::kQueued:
      case RecoverySituation::kKvLost:
        break;
    }
    return reprefill(c, s, std::nullopt);
  }

 private:
  static RecoveryDecision fail(FailureReason reason) {
    RecoveryDecision d;
    d.action = RecoveryAction::kFail;
    d.reason = reason;
    return d;
  }
  static RecoveryDecision redirect(NodeId decode) {
    RecoveryDecision d;
    d.action = RecoveryAction::kRedirect;
    d.decode = decode;
    return d;
  }

  // The eligible decode node with the fewest output tokens still to produce; `avoid` only when
  // it is the only one.
  static std::optional<NodeId> least_loaded_decode(const LoadSnapshot& s, std::optional<NodeId> avoid) {
    return pick_min(s, false, [&](const NodeLoad& n) {
      return std::make_tuple(avoid && n.id == *avoid, n.assigned_decode_tokens, n.kv_usage);
    });
  }

  static RecoveryDecision reprefill(const RecoveryCase& c, const LoadSnapshot& s, std::optional<NodeId> avoid) {
    const std::optional<NodeId> p = pick_min(s, true, [&](const NodeLoad& n) {
      return std::make_tuple(avoid && n.id == *avoid, n.queued_prefill_tokens, n.queued_prefill_requests);
    });
    if (!p) return fail(FailureReason::kNoRoutableNode);
    std::optional<NodeId> d;
    if (!c.was_colocated && s.nodes[to_int(c.decode)].eligible_decode) {
      d = c.decode;
    } else {
      d = least_loaded_decode(s, std::nullopt);
    }
    if (!d) return fail(FailureReason::kNoRoutableNode);
    const RouteDecision route = pair_with(s, *p, *d);
    RecoveryDecision out;
    out.action = RecoveryAction::kReprefill;
    out.prefill = route.prefill;
    out.decode = route.decode;
    return out;
  }

  int64_t reprefill_after_;
};

std::unique_ptr<RecoveryPolicy> make(const PolicyContext& c) {
  jcheck::check_object(c.params, c.json_path, {"reprefill_after_transfer_failures"});
  int64_t reprefill_after = 2;
  if (const auto* v = jcheck::member(c.params, "reprefill_after_transfer_failures")) {
    reprefill_after = jcheck::integer(*v, c.json_path + ".reprefill_after_transfer_failures", 1);
  }
  return std::make_unique<RerouteRecovery>(reprefill_after);
}

FLOWKV_REGISTER_RECOVERY_POLICY("reroute", "re-prefill or re-transfer on live nodes within the retry budget", make);

}  // namespace
}  // namespace flowkv::core
