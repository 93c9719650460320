// The controller's state of one node and of each request in flight, shared with the batch
// schedulers that plan iterations from it.
//
// A node has ONE block allocator used by its prefill side and its decode side, so it can change
// role without moving memory. Requests are referred to by slot (an index into the controller's
// pool of LiveRequests, reused after a request ends), never by pointer. Only the controller's
// thread touches any of this.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "core/base/ids.h"
#include "core/base/request.h"
#include "core/base/time.h"
#include "core/kv/block_allocator.h"
#include "core/kv/prefix_cache.h"
#include "core/work/work.h"

namespace flowkv::core {

struct NodeSpec;

using Slot = uint32_t;

// A request while it is in the system. Token accounting: a prefill of prefill_target tokens
// produces one output token; each decode step stores one more token's KV and produces one more.
// After a preemption the request recomputes prompt + generated tokens.
// The fields every decode step reads or writes come first and the struct is cache-line aligned,
// so a step touches one line per request (the simulator steps ~200 tokens per request).
struct alignas(64) LiveRequest {
  RequestId id{};
  NodeId prefill_node{};
  NodeId decode_node{};
  int64_t output_tokens = 0;
  int64_t generated = 0;       // output tokens produced so far
  int64_t kv_tokens = 0;       // tokens whose KV decode_blocks hold (decode side)
  int64_t decode_block_count = 0;
  Time last_token;             // tokens and last_token live here while the request runs (hot);
  int64_t tokens = 0;          // the record gets them when it ends
  // Cold: touched when the request changes phase.
  const Request* request = nullptr;
  int64_t prompt_tokens = 0;
  int64_t prefill_target = 0;  // tokens the current prefill attempt covers
  int64_t prefill_done = 0;    // of prefill_target, computed or cached
  int64_t cached_tokens = 0;   // of prefill_target, skipped thanks to a prefix cache
  BlockList prefill_blocks;    // disaggregated only: on the prefill node until the transfer ends
  BlockList decode_blocks;     // on the decode node (colocated: the only blocks)
  // Prefix cache (core/kv/prefix_cache.h): references on its prefill node's cache, and how many
  // leading blocks of its prefill-side list (prefill_side()) the cache owns.
  std::vector<PrefixCache::Ref> cache_refs;
  int64_t cache_owned_blocks = 0;
  WorkId transfer{};           // the transfer in flight, if any
  Time transfer_started;
  int32_t retries = 0;
  int32_t transfer_failures = 0;  // consecutive failed transfers of its current KV (core/sched/recovery.h)
  bool colocated() const { return prefill_node == decode_node; }
  // The list its prefill writes: the decode list when colocated.
  BlockList& prefill_side() { return colocated() ? decode_blocks : prefill_blocks; }
};

struct NodeState {
  NodeId id{};
  const NodeSpec* spec = nullptr;
  NodeRole role = NodeRole::kPrefill;
  bool routable = true;
  bool down = false;  // failed (kNodeDown) and not back yet: unroutable, runs nothing, holds no KV
  std::unique_ptr<BlockAllocator> kv;
  std::unique_ptr<PrefixCache> prefix_cache;  // none unless a policy installs one

  // Prefill side, FCFS (a preempted request goes back to the front).
  std::deque<Slot> waiting;       // routed here, no blocks yet
  std::vector<Slot> prefilling;   // blocks held, prompt partly computed (chunked prefill)
  // Decode side.
  std::vector<Slot> decoding;     // the running decode batch, oldest first
  std::deque<Slot> ready;         // KV here, waiting for room in the decode batch
  std::deque<Slot> pending_in;    // prefilled elsewhere, waiting for blocks here to transfer into
  int32_t incoming = 0;           // transfers in flight into this node

  // The iteration in flight (the spans of the submitted Iteration point into these).
  bool busy = false;
  WorkId work{};
  Time work_start;
  std::vector<PrefillItem> it_prefill;
  std::vector<Slot> it_prefill_slots;  // parallel to it_prefill
  std::vector<DecodeItem> it_decode;   // decoding, when the iteration steps the decode batch
  bool it_decodes = false;

  // Role flip requested by the role controller / in flight.
  bool flip_requested = false;
  bool flipping = false;
  WorkId flip_work{};
  NodeRole flip_role = NodeRole::kPrefill;
  bool flip_routable = true;
  Duration flip_cost;             // of the change requested (a join's start-up, a flip's cost)

  // Load figures (LoadSnapshot reads them).
  int64_t queued_prefill_tokens = 0;
  int64_t assigned_decode_tokens = 0;

  // Accounting for the metrics.
  Duration busy_time;
  Time usage_since;          // last change of the number of used blocks
  double used_block_ns = 0;  // integral of used blocks over time
  int64_t peak_used_blocks = 0;
  int64_t iterations = 0;
  int64_t prefill_tokens = 0;
  int64_t decode_tokens = 0;
  int64_t preemptions = 0;
  int64_t transfers_out = 0;
  int64_t transfers_in = 0;
  int64_t role_flips = 0;
  int64_t elastic_joins = 0;          // became routable (a standby node joining)
  int64_t elastic_leaves = 0;         // stopped being routable
  int64_t prefix_prompt_tokens = 0;   // prompt tokens of prefills started here (with a prefix cache)
  int64_t prefix_hit_tokens = 0;      // of those, found in the node's prefix cache
  int64_t prefix_evictions = 0;       // cache entries evicted (set at the end of the run)
  NodeRole initial_role = NodeRole::kPrefill;
  // Failures of this node and the recoveries they caused (core/sched/recovery.h).
  int64_t failures = 0;
  int64_t recoveries_reprefill = 0;
  int64_t recoveries_retransfer = 0;
  int64_t recoveries_reroute = 0;
};

}  // namespace flowkv::core
