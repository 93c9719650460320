// LocalNodeHost: the nodes of a live run that execute in this process, on one Device.
//
// Each hosted node has its executor (its KV pool on the device, made when the host is made), a
// compute worker (its iterations, in order) and a send worker (the transfers it sends to a node
// of this process, through the device's Transport: one call per planned copy; per-layer
// transfers gather into a staging buffer and scatter out of one). In a single process it hosts
// every node (LiveBackend's default); in a multi-rank run each rank hosts the nodes placed on
// it, and its side of a transfer with a node on another rank runs on the `link` worker through
// the peer Transport (MpiTransport between CPU ranks, NcclTransport between GPUs): one worker,
// so a rank runs its cross-rank sides in the order the controller submitted them, which both
// ranks of a transfer share (no two ranks can wait on each other).
//
// Failures are results: an executor or transport error fails the job (kFailed, with the error),
// a transfer not complete after `work_timeout` is kTimedOut. peer_lost(rank) cancels the
// cross-rank side in progress with that rank and fails later ones at once.
//
// Threading: run_*(), crash() and run_transfer_side() from one thread (the controller's, or a
// rank's control-plane thread); peer_lost() from any thread. Results reach the listener from
// the workers' threads. The destructor stops the workers (the jobs they have not started are
// dropped, with no result) before the executors go.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "core/spec/scenario.h"
#include "runtime/executor.h"
#include "runtime/live/node_host.h"
#include "runtime/live/worker.h"
#include "runtime/transport.h"

namespace flowkv::runtime {

struct LocalNodeHostOptions {
  core::Duration work_timeout = core::Duration::seconds(300);
  // The nodes this process hosts (indices into scenario.nodes); empty: all of them.
  std::vector<uint32_t> nodes;
  // This rank's side of transfers with other ranks; null in a single process. Used from the
  // link worker only; made on it (the first time a cross-rank side runs) when it needs the
  // worker's thread, as a GPU transport does.
  std::function<std::unique_ptr<Transport>()> make_peer_transport;
};

class LocalNodeHost final : public NodeHost {
 public:
  // Makes every hosted node's executor now; pools that do not fit the device are an input error
  // naming the sizes.
  LocalNodeHost(const core::Scenario& scenario, Device& device, Listener& listener,
                LocalNodeHostOptions options);
  ~LocalNodeHost() override;

  void run_iteration(IterationJob job) override;
  void run_transfer(TransferJob job) override;  // both nodes hosted here
  void crash(uint32_t node) override;
  std::string device_name() const override { return device_.name(); }

  // This rank's side of a transfer whose other node is on `peer_rank`: send the source blocks
  // (`send`, the source node is hosted here) or receive into the destination blocks.
  void run_transfer_side(TransferJob job, bool send, int peer_rank);
  // `rank` is gone: its cross-rank sides here fail (kCanceled) instead of waiting out their deadline.
  void peer_lost(int rank);
  // The other side of transfer `work` failed: this side stops waiting for it (kCanceled).
  void cancel_side(uint64_t work);

  bool hosts(uint32_t node) const { return node < nodes_.size() && nodes_[node] != nullptr; }

 private:
  struct Node;
  Node& node(uint32_t index, const char* what);

  const core::Scenario& scenario_;
  Device& device_;
  Listener& listener_;
  LocalNodeHostOptions options_;
  std::vector<std::unique_ptr<Node>> nodes_;  // null for nodes hosted elsewhere
  std::unique_ptr<Transport> peer_transport_;  // link worker only
  // What stops a cross-rank side early (peer_lost, cancel_side), read by the link worker.
  std::mutex lost_mu_;
  std::vector<int> lost_ranks_;
  std::vector<uint64_t> canceled_;  // recent work ids, oldest first
  std::atomic<int> lost_count_{0};  // bumped by both
  bool stopped(int peer_rank, uint64_t work, std::string& why);
  // Staging buffers of cross-rank sides that did not complete: a transport may still touch them.
  std::mutex graveyard_mu_;
  std::vector<DeviceBytes> graveyard_;
  std::unique_ptr<Worker> link_;  // last: stopped first
};

}  // namespace flowkv::runtime
