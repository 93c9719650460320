// Work and Completion: what the controller asks a backend to do and what comes back.
//
// The controller submits Work (an iteration on a node, a KV transfer between two nodes, a role
// flip, a timer) and later receives exactly one Completion per submitted WorkId, with a state.
// The backend also delivers request arrivals as Completions, because it owns time and the
// arrival stream. Every item is a plain value; spans inside an Iteration or a Transfer point at
// controller buffers and are valid only during Backend::submit() (a backend copies what it keeps).
#pragma once

#include <cstdint>
#include <span>
#include <variant>

#include "core/base/ids.h"
#include "core/base/request.h"
#include "core/base/time.h"
#include "core/kv/block_allocator.h"
#include "core/spec/node_role.h"

namespace flowkv::core {

enum class WorkId : uint64_t {};

// States a submitted piece of work can end in (the shape of NCCL's net plugin / Mooncake's
// getTransferStatus). kPending is never delivered; it exists for backends that poll.
enum class WorkState : uint8_t { kPending, kCompleted, kFailed, kCanceled, kTimedOut };
const char* to_string(WorkState state);

// `num_tokens` tokens of `request`'s prompt computed after `context_tokens` already are (by
// earlier chunks, or found in a prefix cache). `blocks` is the request's block table on the node
// (position t in block t / block_size of the concatenated runs), covering context_tokens +
// num_tokens; the new tokens' KV goes there. The simulator ignores it; the live backend writes
// and reads those very blocks.
struct PrefillItem {
  RequestId request{};
  int64_t num_tokens = 0;
  int64_t context_tokens = 0;
  std::span<const BlockRun> blocks;  // valid during submit() only
};

// One decode step of `request`: its KV holds `context_tokens` tokens before the step; the step
// appends one (into `blocks`, which covers context_tokens + 1) and produces the next token.
struct DecodeItem {
  RequestId request{};
  int64_t context_tokens = 0;
  std::span<const BlockRun> blocks;  // valid during submit() only
};

// One forward pass on one node (continuous batching: prefill chunks and decode steps together).
struct Iteration {
  WorkId id{};
  NodeId node{};
  std::span<const PrefillItem> prefill;  // valid during submit() only
  std::span<const DecodeItem> decode;    // valid during submit() only
  // Aggregates the controller keeps anyway, so cost models need not walk the items.
  int64_t num_prefill_tokens = 0;     // sum of prefill[i].num_tokens
  int64_t decode_context_tokens = 0;  // sum of decode[i].context_tokens
};

// Move `request`'s KV from src to dst: its blocks `src_blocks` on src into `dst_blocks` on dst
// (the same number), `calls` transport calls carrying `bytes` in total as core/kv/transfer_plan.h
// plans them with the scenario's layout and transfer mode. The simulator charges the counts; the
// live backend plans the copies from the block lists with the same function and moves them.
struct Transfer {
  WorkId id{};
  RequestId request{};
  NodeId src{};
  NodeId dst{};
  int64_t calls = 0;
  int64_t bytes = 0;
  int64_t local_copies = 0;  // gather/scatter copies (per-layer mode)
  std::span<const BlockRun> src_blocks;  // valid during submit() only
  std::span<const BlockRun> dst_blocks;
};

// A node changes role (or joins / leaves the routable set); it runs nothing for `cost`.
struct RoleFlip {
  WorkId id{};
  NodeId node{};
  NodeRole new_role = NodeRole::kPrefill;
  bool routable = true;
  Duration cost;
};

// Completes after `delay`. Pending timers alone do not keep a run alive (see Backend::next).
struct Timer {
  WorkId id{};
  Duration delay;
};

using Work = std::variant<Iteration, Transfer, RoleFlip, Timer>;

struct Completion {
  // kNodeDown: `node` has failed and lost its KV; every work in flight on it (its iteration, its
  // role flip, transfers from or to it) comes back kFailed after this, at the same time.
  // kNodeUp: `node` serves again, with an empty KV pool (see core/sched/recovery.h).
  enum class Kind : uint8_t { kArrival, kWorkDone, kTimer, kNodeDown, kNodeUp };
  Kind kind = Kind::kWorkDone;
  Time time;
  // kArrival: the request, owned by the backend and valid until the backend is destroyed.
  const Request* request = nullptr;
  // kWorkDone / kTimer: which work and how it ended.
  WorkId work{};
  WorkState state = WorkState::kCompleted;
  NodeId node{};  // kNodeDown / kNodeUp
};

}  // namespace flowkv::core
