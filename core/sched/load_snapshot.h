// LoadSnapshot: the read-only view of the cluster that global schedulers and role controllers
// decide from. The controller refreshes it before every decision (O(nodes)); policies must not
// keep pointers into it past the call.
#pragma once

#include <cstdint>
#include <span>

#include "core/base/ids.h"
#include "core/base/time.h"
#include "core/kv/transfer_plan.h"
#include "core/spec/hardware_spec.h"
#include "core/work/work.h"

namespace flowkv::core {

struct NodeSpec;
class PrefixCache;

struct NodeLoad {
  NodeId id{};
  const NodeSpec* spec = nullptr;     // GPU, tensor parallelism, KV layout and pool size
  NodeRole role = NodeRole::kPrefill;
  bool routable = true;               // false for standby nodes and nodes that left
  bool busy = false;                  // an iteration is running
  Duration busy_time;                 // time spent in iterations since the start (running one included)
  bool flipping = false;              // a role flip is requested or running
  // Prefill side.
  int64_t queued_prefill_tokens = 0;  // prompt tokens routed here and not yet computed
  int32_t queued_prefill_requests = 0;
  // Decode side.
  int32_t running_decode = 0;         // requests in the decode batch
  int32_t waiting_decode = 0;         // KV arriving, arrived or waiting for blocks here
  int64_t assigned_decode_tokens = 0; // output tokens still to produce for requests decoding here
  // KV pool.
  int64_t kv_total_blocks = 0;
  int64_t kv_free_blocks = 0;
  int64_t kv_largest_free_run = 0;
  double kv_usage = 0;                // used / total
  const PrefixCache* prefix_cache = nullptr;  // null when the node has none
  // For the request being routed (arrival decisions only): may this node take it?
  bool eligible_prefill = false;      // routable, prefill-capable, pool large enough
  bool eligible_decode = false;       // routable, decode-capable, pool large enough
};

struct LoadSnapshot {
  Time now;
  std::span<const NodeLoad> nodes;    // indexed by NodeId
  LinkSpec link;                      // between every prefill and decode node
  TransferMode transfer_mode = TransferMode::kMerged;
  int64_t request_blocks = 0;         // KV blocks the routed request needs at most (arrivals only)

  // Transfer time of `blocks` KV blocks from p to d as if both pools held them in one run:
  // calls * per_call_latency + bytes / bandwidth, without contention.
  Duration estimate_transfer(NodeId p, NodeId d, int64_t blocks) const;
};

}  // namespace flowkv::core
