#include "core/sched/pool_view.h"

#include "core/spec/scenario.h"

namespace flowkv::core {

PoolView PoolView::of(const LoadSnapshot& s, const CostEstimator& est) {
  PoolView v;
  for (const NodeLoad& n : s.nodes) {
    if (n.role == NodeRole::kColocated) continue;
    const bool prefill = n.role == NodeRole::kPrefill;
    PoolMember m{n.id, prefill ? est.prefill_load(n) : est.decode_load(n), n.flipping};
    if (n.routable) {
      (prefill ? v.prefill : v.decode).push_back(m);
    } else if (n.spec != nullptr && n.spec->standby) {
      (prefill ? v.standby_prefill : v.standby_decode).push_back(m);
    }
  }
  auto mean = [](const std::vector<PoolMember>& pool) {
    double sum = 0;
    for (const PoolMember& m : pool) sum += m.load;
    return pool.empty() ? 0.0 : sum / static_cast<double>(pool.size());
  };
  v.prefill_load = mean(v.prefill);
  v.decode_load = mean(v.decode);
  return v;
}

int64_t PoolView::available(const std::vector<PoolMember>& pool) {
  int64_t n = 0;
  for (const PoolMember& m : pool) n += m.flipping ? 0 : 1;
  return n;
}

}  // namespace flowkv::core
