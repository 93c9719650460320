// "flowkv-plus" (ours, beyond the paper): the pair that minimises the request's estimated
// END-TO-END latency rather than its TTFT alone,
//   E2E(P, D) = queue time on P + prefill of the prompt less P's prefix-cache hit
//             + transfer P -> D, slowed by the transfers already arriving at D (they share
//               D's port) and by how many runs D's free space would cut the KV into
//             + the wait for D's pool when it cannot hold the KV now
//             + (output_tokens - 1) * D's decode step time with this request added
// (core/sched/cost_estimate.h: the same roofline the simulator charges). Choosing D by the decode
// step it would run at puts long-context requests where the batch reads least KV, which
// `flowkv`'s load score (a max of ratios) cannot see. The router also remembers the requests it
// sent to each decode node whose KV has not arrived yet (until their estimated TTFT has passed)
// and counts them in that node's batch, so that a burst does not herd to the node that looked
// emptiest. A colocated node that can also decode is costed without transfer.
//
// Profile: FlowKV's layout, segment allocator and merged transfers, and our role controller
// "flowkv-plus" (core/sched/policies/flowkv_plus_roles.cc).
#include <algorithm>
#include <queue>
#include <tuple>
#include <vector>

#include "core/base/json_check.h"
#include "core/kv/prefix_cache.h"
#include "core/sched/cost_estimate.h"
#include "core/sched/global_scheduler.h"
#include "core/sched/policy_profile.h"
#include "core/spec/scenario.h"

namespace flowkv::core {
namespace {

class FlowKvPlus final : public GlobalScheduler {
 public:
  explicit FlowKvPlus(const Scenario& s) : est_(s) {}

  RouteDecision route(const Request& req, const LoadSnapshot& s) override {
    forget_arrived(s);
    const int64_t blocks = est_.blocks_for_tokens(req.prompt_tokens);
    const double later_tokens = static_cast<double>(req.output_tokens - 1);
    // Decode side: what D adds to the request's latency, apart from the prefill.
    std::optional<NodeId> d;
    Duration d_best = Duration::max();
    std::optional<NodeId> ref_p;  // any eligible prefill node, to price the transfer
    for (const NodeLoad& n : s.nodes) {
      if (n.eligible_prefill && !ref_p) ref_p = n.id;
    }
    for (const NodeLoad& n : s.nodes) {
      if (!n.eligible_decode) continue;
      const Duration t = decode_side(s, n, *ref_p, blocks, req.prompt_tokens, later_tokens);
      if (t < d_best) {
        d_best = t;
        d = n.id;
      }
    }
    std::optional<NodeId> p;
    Duration best = Duration::max();
    int64_t best_cached = 0;
    bool best_local = false;
    for (const NodeLoad& n : s.nodes) {
      if (!n.eligible_prefill) continue;
      const int64_t cached = n.prefix_cache ? n.prefix_cache->lookup(req) : 0;
      const Duration prefill = est_.prefill_finish(n, req.prompt_tokens, cached);
      const bool local = n.role == NodeRole::kColocated && n.eligible_decode;
      // A colocated node decodes the request itself: price its own decode side, no transfer.
      const Duration rest = local ? scaled(est_.decode_step_now(n, 1, req.prompt_tokens), later_tokens)
                                  : d_best + s.estimate_transfer(n.id, *d, blocks) - s.estimate_transfer(*ref_p, *d, blocks);
      const Duration t = prefill + rest;
      if (t < best) {
        best = t;
        p = n.id;
        best_cached = cached;
        best_local = local;
      }
    }
    RouteDecision decision = best_local ? pair_with(s, *p, *p) : RouteDecision{*p, *d, 0, false};
    decision.cached_prompt_tokens = best_cached;
    // Remember it until its KV should have reached the decode node.
    const NodeId dn = decision.decode;
    const Time eta = s.now + est_.prefill_finish(s.nodes[to_int(*p)], req.prompt_tokens, best_cached) +
                     s.estimate_transfer(*p, dn, blocks);
    inbound_.push(Inbound{eta, seq_++, to_int(dn), req.prompt_tokens});
    if (inbound_count_.size() < s.nodes.size()) {
      inbound_count_.resize(s.nodes.size(), 0);
      inbound_tokens_.resize(s.nodes.size(), 0);
    }
    ++inbound_count_[to_int(dn)];
    inbound_tokens_[to_int(dn)] += req.prompt_tokens;
    return decision;
  }

 private:
  struct Inbound {
    Time eta;
    uint64_t seq = 0;
    uint32_t node = 0;
    int64_t tokens = 0;
    bool operator>(const Inbound& o) const { return std::tie(eta, seq) > std::tie(o.eta, o.seq); }
  };

  void forget_arrived(const LoadSnapshot& s) {
    while (!inbound_.empty() && inbound_.top().eta <= s.now) {
      const Inbound& x = inbound_.top();
      --inbound_count_[x.node];
      inbound_tokens_[x.node] -= x.tokens;
      inbound_.pop();
    }
  }

  static Duration scaled(Duration d, double k) { return Duration::from_seconds(d.seconds() * k); }

  Duration decode_side(const LoadSnapshot& s, const NodeLoad& n, NodeId p, int64_t blocks, int64_t prompt,
                       double later_tokens) const {
    Duration transfer = s.estimate_transfer(p, n.id, blocks);
    // Transfers into D share its port: count those in flight or queued for it.
    transfer = transfer * (1 + n.waiting_decode);
    // A pool whose largest free run is shorter than the request cuts its KV into several runs:
    // one more call per extra run.
    if (n.kv_largest_free_run > 0 && n.kv_largest_free_run < blocks) {
      transfer += s.link.per_call_latency * ((blocks + n.kv_largest_free_run - 1) / n.kv_largest_free_run);
    }
    Duration wait = Duration::zero();
    if (n.kv_free_blocks < blocks) {
      // The KV waits until the batch frees enough blocks: about as many steps as a request of
      // the batch still has to run.
      wait = scaled(est_.decode_step_now(n), static_cast<double>(n.assigned_decode_tokens) /
                                                 std::max<double>(1.0, n.running_decode));
    }
    const size_t i = to_int(n.id);
    const int64_t in_count = i < inbound_count_.size() ? inbound_count_[i] : 0;
    const int64_t in_tokens = i < inbound_tokens_.size() ? inbound_tokens_[i] : 0;
    const Duration step = est_.decode_step_now(n, 1 + in_count, prompt + in_tokens);
    return transfer + wait + scaled(step, later_tokens);
  }

  CostEstimator est_;
  std::priority_queue<Inbound, std::vector<Inbound>, std::greater<Inbound>> inbound_;
  std::vector<int64_t> inbound_count_, inbound_tokens_;  // by decode node
  uint64_t seq_ = 0;
};

FLOWKV_REGISTER_GLOBAL_SCHEDULER("flowkv-plus", "ours: the pair with the least estimated end-to-end latency",
                                 [](const PolicyContext& c) -> std::unique_ptr<GlobalScheduler> {
                                   jcheck::check_no_params(c.params, c.json_path);
                                   return std::make_unique<FlowKvPlus>(c.scenario);
                                 });

FLOWKV_REGISTER_POLICY_PROFILE("flowkv-plus", "block-contiguous layout, segment allocator, merged transfers, role controller flowkv-plus",
                               [](ProfileEditor& e) {
                                 e.set("kv.layout", "contiguous");
                                 e.set("kv.allocator", "segment");
                                 e.set("kv.transfer", "merged");
                                 e.set_role_policy("flowkv-plus");
                               });

}  // namespace
}  // namespace flowkv::core
