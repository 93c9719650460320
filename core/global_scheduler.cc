#include "core/global_scheduler.h"

#include "core/scenario.h"

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
