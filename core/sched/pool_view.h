// PoolView: the cluster as role controllers see it: the routable prefill pool, the routable
// decode pool and the standby nodes of each role, with every node's load score
// (core/sched/cost_estimate.h). Colocated nodes serve both phases and belong to neither pool; nodes
// that are down or flipping are listed but flagged, so controllers neither pick them nor count on
// them.
//
// A plain value built from one LoadSnapshot; O(nodes).
#pragma once

#include <cstdint>
#include <vector>

#include "core/sched/cost_estimate.h"
#include "core/sched/load_snapshot.h"

namespace flowkv::core {

struct PoolMember {
  NodeId id{};
  double load = 0;        // prefill load for the prefill pool, decode load for the decode pool
  bool flipping = false;  // a change is requested or running: not available
};

struct PoolView {
  std::vector<PoolMember> prefill;          // routable, role prefill
  std::vector<PoolMember> decode;           // routable, role decode
  std::vector<PoolMember> standby_prefill;  // not routable, standby, role prefill
  std::vector<PoolMember> standby_decode;   // not routable, standby, role decode
  double prefill_load = 0;                  // mean over `prefill` (0 when empty)
  double decode_load = 0;                   // mean over `decode`

  static PoolView of(const LoadSnapshot& snapshot, const CostEstimator& estimator);
  // Members not flipping.
  static int64_t available(const std::vector<PoolMember>& pool);
};

}  // namespace flowkv::core
