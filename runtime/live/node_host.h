// NodeHost: where the live backend's nodes execute. The controller side of a live run
// (LiveBackend: arrivals, timers, faults, deadlines, the in-flight table, the token sequences)
// turns each Work into a self-contained job and hands it to a NodeHost; the host runs it on the
// node's executor or transport and reports one JobResult per job.
//
//   LocalNodeHost (runtime/live/local_node_host.h)  nodes in this process: a compute and a send
//                                                   worker per node (the single-process backend)
//   MpiNodeHost   (runtime/mpi/mpi_node_host.h)     nodes hosted by other MPI ranks: jobs go to
//                                                   the hosting rank, results come back
//
// Jobs are plain values (they travel between processes): an iteration carries its token ids and
// block ids, a transfer its block lists; the host plans the copies with core::plan_transfer from
// the scenario's layouts, as the controller counted them.
//
// Contract: every job submitted gets exactly one JobResult through the listener, from any
// thread, unless the node is lost first (then the listener hears on_node_lost for it, once, and
// the job's result may never come). Results of a node's iterations come in submission order.
// A host never blocks the caller of run_*() for the job's execution. crash() makes the node
// lose its KV after the job it is running (its pool is poisoned: a later read shows as wrong
// tokens). Threading: run_*() and crash() are called from the controller's thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/base/time.h"
#include "core/kv/block_allocator.h"
#include "core/work/work.h"

namespace flowkv::runtime {

// One forward pass on one node.
struct IterationJob {
  uint64_t work = 0;  // core::WorkId
  uint32_t node = 0;
  struct Item {
    uint64_t request = 0;
    int64_t start = 0;       // tokens of the request already in its blocks
    int64_t num_tokens = 0;  // its slice of `tokens`, in item order
    int64_t num_blocks = 0;  // its slice of `blocks`, in item order
    bool sample = false;     // return its next token
  };
  std::vector<Item> items;
  std::vector<int32_t> tokens;  // the items' new tokens, concatenated
  std::vector<int64_t> blocks;  // the items' block tables, concatenated
};

// A KV transfer between two nodes (the whole transfer, or one side of it between ranks).
struct TransferJob {
  uint64_t work = 0;  // core::WorkId
  uint32_t src = 0, dst = 0;
  std::vector<core::BlockRun> src_blocks, dst_blocks;
  double slow = 1.0;  // an active link-slow fault: the transfer takes 1 / slow as long
};

struct JobResult {
  uint64_t work = 0;
  core::WorkState state = core::WorkState::kCompleted;
  std::vector<int32_t> next;  // iterations: the sampled token of each item (-1 when none)
  std::string error;          // why it failed
  core::Duration queued;      // iterations: from the job's arrival at its host to its start
  core::Duration ran;         // iterations: the executor's run time
};

class NodeHost {
 public:
  // Told about results and lost nodes, from any thread; must not call back into the host.
  class Listener {
   public:
    virtual ~Listener() = default;
    virtual void on_result(JobResult result) = 0;
    // The node stopped answering (its rank is silent or gone): for good, no kNodeUp follows.
    virtual void on_node_lost(uint32_t node, std::string why) = 0;
  };

  virtual ~NodeHost() = default;
  virtual void run_iteration(IterationJob job) = 0;
  virtual void run_transfer(TransferJob job) = 0;
  virtual void crash(uint32_t node) = 0;
  // "cpu (2 threads)", or one line per rank for a host spread over ranks.
  virtual std::string device_name() const = 0;
};

// Makes the host of a backend, given where its results go.
using NodeHostFactory = std::function<std::unique_ptr<NodeHost>(NodeHost::Listener&)>;

}  // namespace flowkv::runtime
