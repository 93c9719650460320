#include "core/sched/global_scheduler.h"

#include "core/kv/prefix_cache.h"
#include "core/sched/cost_estimate.h"
#include "core/spec/scenario.h"

namespace flowkv::core {

PolicyRegistry<GlobalScheduler>& global_scheduler_registry() {
  static PolicyRegistry<GlobalScheduler> registry("global scheduler");
  return registry;
}

std::unique_ptr<GlobalScheduler> make_global_scheduler(const Scenario& scenario) {
  const PolicyContext context{scenario, scenario.global.params, scenario.global.json_path};
  return global_scheduler_registry().make(scenario.global.name, context);
}

RouteDecision pair_with(const LoadSnapshot& s, NodeId prefill, NodeId decode) {
  RouteDecision d;
  d.prefill = prefill;
  const NodeLoad& p = s.nodes[to_int(prefill)];
  d.decode = p.role == NodeRole::kColocated && p.eligible_decode ? prefill : decode;
  return d;
}

FastestPrefill fastest_prefill(const CostEstimator& est, const Request& req, const LoadSnapshot& s,
                               NodeId decode) {
  const int64_t blocks = est.blocks_for_tokens(req.prompt_tokens);
  std::optional<NodeId> p;
  Duration best = Duration::max();
  int64_t best_cached = 0;
  for (const NodeLoad& n : s.nodes) {
    if (!n.eligible_prefill) continue;
    const int64_t cached = n.prefix_cache ? n.prefix_cache->lookup(req) : 0;
    const bool local = n.role == NodeRole::kColocated && n.eligible_decode;
    const Duration t = est.prefill_finish(n, req.prompt_tokens, cached) +
                       (local ? Duration::zero() : s.estimate_transfer(n.id, decode, blocks));
    if (t < best) {
      best = t;
      p = n.id;
      best_cached = cached;
    }
  }
  FastestPrefill f{pair_with(s, *p, decode), best};
  f.decision.cached_prompt_tokens = best_cached;
  return f;
}

Duration LoadSnapshot::estimate_transfer(NodeId p, NodeId d, int64_t blocks) const {
  if (p == d || blocks <= 0) return Duration::zero();
  const NodeSpec* src = nodes[to_int(p)].spec;
  const KvLayout& layout = src->layout;
  int64_t calls = 0;
  switch (transfer_mode) {
    case TransferMode::kPerBlock: calls = blocks * layout.pieces_per_block(); break;
    case TransferMode::kMerged: calls = layout.pieces_per_block(); break;
    case TransferMode::kPerLayer: calls = layout.geometry.num_layers; break;
  }
  const double bytes = static_cast<double>(blocks) * static_cast<double>(layout.geometry.block_bytes());
  return link.per_call_latency * calls + Duration::from_seconds(bytes / link.bytes_per_s);
}

}  // namespace flowkv::core
