// LinkModel: the bytes phase of KV transfers, with flows that share a link sharing its
// bandwidth.
//
// Every node has an egress and an ingress port of the cluster link's bandwidth (an NVLink/NVSwitch
// port or a NIC: one direction each). A flow from P to D crosses P's egress and D's ingress, and
// the active flows get max-min fair rates (progressive filling): two equal flows from P to D each
// get half the bandwidth and take twice as long as one alone. The model is re-solved whenever a
// flow starts or ends and reports its next completion, which the backend schedules as an event
// tagged with generation(); an event whose generation is stale is ignored (no cancellation).
// Deterministic; O(flows * ports) per change. Not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/base/time.h"

namespace flowkv::sim {

class LinkModel {
 public:
  LinkModel(size_t num_nodes, double bytes_per_s);

  // Starts a flow of `bytes` > 0 at `now`; `tag` comes back when it finishes.
  void add(core::Time now, uint32_t src, uint32_t dst, int64_t bytes, uint64_t tag);
  // Brings every flow to `now` and appends the tags of those finished by then (in start order).
  void advance(core::Time now, std::vector<uint64_t>& finished);
  // Faults (core/spec/fault_spec.h). The node's egress and ingress ports run at `factor` x the
  // bandwidth from `now` (1 restores it); active flows are re-solved.
  void set_node_factor(core::Time now, uint32_t node, double factor);
  // Removes the active flows from or to `node` at `now` and appends their tags to `dropped`
  // (in start order); the others are re-solved.
  void drop_node(core::Time now, uint32_t node, std::vector<uint64_t>& dropped);
  // When the earliest active flow finishes at the current rates.
  std::optional<core::Time> next_completion() const { return next_; }
  uint64_t generation() const { return generation_; }
  size_t active() const { return flows_.size(); }
  // Current rate of each active flow in bytes/s, in start order (tests).
  std::vector<double> rates() const;

 private:
  struct Flow {
    uint32_t egress = 0;
    uint32_t ingress = 0;
    double total = 0;
    double remaining = 0;  // bytes
    double rate = 0;       // bytes per ns
    uint64_t tag = 0;
  };
  void progress_to(core::Time now);
  void solve(core::Time now);

  size_t num_nodes_;
  double capacity_;  // bytes per ns per port
  std::vector<double> port_factor_;  // [2 * num_nodes]: egress ports, then ingress ports
  std::vector<Flow> flows_;
  core::Time last_ = core::Time::zero();
  std::optional<core::Time> next_;
  uint64_t generation_ = 0;
  // Scratch for solve().
  std::vector<double> left_;
  std::vector<int32_t> unfixed_;
  std::vector<uint8_t> fixed_;
};

}  // namespace flowkv::sim
