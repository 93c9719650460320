// GlobalScheduler: on each arrival, picks the prefill node and the decode node of a request.
//
// A policy sees the request and a read-only LoadSnapshot and returns a RouteDecision. It may only
// pick nodes marked eligible in the snapshot (routable, of the right role, with a pool large
// enough); the controller has already failed requests no node can take, so there is always at
// least one eligible prefill and one eligible decode node. Picking the same colocated node for
// both means no KV transfer. A policy may reject a request (admission control); the controller
// counts it as failed with the reason "rejected".
//
// Policies live one per file in core/sched/policies/ and register by name with
// FLOWKV_REGISTER_GLOBAL_SCHEDULER; "random" and friends draw from the scenario's seed. One
// instance serves one run, from the controller's thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/base/request.h"
#include "core/base/time.h"
#include "core/sched/load_snapshot.h"
#include "core/sched/policy_registry.h"

namespace flowkv::core {

class CostEstimator;
struct Scenario;

struct RouteDecision {
  NodeId prefill{};
  NodeId decode{};
  int64_t cached_prompt_tokens = 0;  // prompt tokens the prefill node's prefix cache holds
  bool rejected = false;
};

class GlobalScheduler {
 public:
  virtual ~GlobalScheduler() = default;
  virtual RouteDecision route(const Request& request, const LoadSnapshot& snapshot) = 0;
};

PolicyRegistry<GlobalScheduler>& global_scheduler_registry();
std::unique_ptr<GlobalScheduler> make_global_scheduler(const Scenario& scenario);

// Helpers shared by the simple policies.
// The eligible node that minimises key(load), lowest id on ties; key returns a comparable value.
template <typename Key>
std::optional<NodeId> pick_min(const LoadSnapshot& s, bool prefill_side, Key key) {
  std::optional<NodeId> best;
  decltype(key(s.nodes[0])) best_key{};
  for (const NodeLoad& n : s.nodes) {
    if (!(prefill_side ? n.eligible_prefill : n.eligible_decode)) continue;
    const auto k = key(n);
    if (!best || k < best_key) {
      best = n.id;
      best_key = k;
    }
  }
  return best;
}
// A decision with `prefill` and, when that node is colocated and eligible for decode, the same
// node for decode (no transfer); otherwise `decode`.
RouteDecision pair_with(const LoadSnapshot& s, NodeId prefill, NodeId decode);

// The eligible prefill node whose first token reaches `decode` soonest: queue time + prefill of
// the prompt less the node's prefix-cache hit + KV transfer to `decode` (none when the prefill
// node is colocated and may decode: pair_with keeps the request there). The pair choice of
// Mooncake's Conductor and of FlowKV; `ttft` is the estimate of the chosen pair.
struct FastestPrefill {
  RouteDecision decision;
  Duration ttft;
};
FastestPrefill fastest_prefill(const CostEstimator& est, const Request& req, const LoadSnapshot& s,
                               NodeId decode);

#define FLOWKV_REGISTER_GLOBAL_SCHEDULER(name, summary, factory)                                \
  FLOWKV_REGISTER_POLICY(::flowkv::core::GlobalScheduler, ::flowkv::core::global_scheduler_registry(), \
                         name, summary, factory)

}  // namespace flowkv::core
