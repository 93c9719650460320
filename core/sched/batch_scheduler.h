// BatchScheduler: what one node runs in its next iteration (iteration-level, continuous
// batching as in vLLM).
//
// The controller calls plan() whenever the node is idle. The policy reads the node's queues,
// admits requests, grows and preempts through BatchOps (which does the KV bookkeeping), and
// fills node.it_prefill / it_prefill_slots and sets node.it_decodes (the whole `decoding` batch
// steps). An empty plan means the node idles until something changes. plan() must make
// progress whenever it can: a decode batch that cannot grow preempts (never drops) a request.
//
// Policy "continuous" (vLLM-like), parameters under policies.batch:
//   order              "prefill-first" (default: an iteration runs new prefills alone when any
//                      fit, else the decode batch, like vLLM V0) or "decode-first" (decodes
//                      first, prefills fill the token budget in the same iteration)
//   max_batched_tokens token budget of one iteration (default 8192)
//   max_num_seqs       requests running on the node (prefilling + decoding), default 256
//   max_decode_batch   cap of the decode batch (default max_num_seqs)
//   chunked_prefill    split prompts across iterations to fill the budget, mixed with decodes
//                      (default false)
// A request's prefill blocks are allocated in full when its prefill starts, so chunks never wait
// for memory; without chunking a prompt longer than the budget runs alone in one iteration.
#pragma once

#include <memory>

#include "core/sched/policy_registry.h"
#include "core/work/node_state.h"

namespace flowkv::core {

struct Scenario;

// KV operations a batch scheduler may ask for; the controller implements them (and keeps the
// usage accounting, records and queues of other nodes right).
class BatchOps {
 public:
  virtual ~BatchOps() = default;
  // Not virtual: called for every request of every decode step.
  LiveRequest& request(Slot slot) { return pool_[slot]; }
  // Allocates the blocks for slot's whole prefill on `node`; false (nothing changed) when the
  // pool has too few free blocks.
  virtual bool start_prefill(NodeState& node, Slot slot) = 0;
  // One more block for slot's next decode token; false when the pool is full.
  virtual bool grow(NodeState& node, Slot slot) = 0;
  // Frees slot's KV on `node` and requeues it for recompute on its prefill node; the caller has
  // already removed it from node.decoding. Counted as a preemption.
  virtual void preempt(NodeState& node, Slot slot) = 0;

 protected:
  LiveRequest* pool_ = nullptr;  // the implementer keeps it pointing at its slot pool
};

class BatchScheduler {
 public:
  virtual ~BatchScheduler() = default;
  virtual void plan(NodeState& node, BatchOps& ops) = 0;
};

PolicyRegistry<BatchScheduler>& batch_scheduler_registry();
std::unique_ptr<BatchScheduler> make_batch_scheduler(const Scenario& scenario);

#define FLOWKV_REGISTER_BATCH_SCHEDULER(name, summary, factory)                                   \
  FLOWKV_REGISTER_POLICY(::flowkv::core::BatchScheduler, ::flowkv::core::batch_scheduler_registry(), \
                         name, summary, factory)

}  // namespace flowkv::core
