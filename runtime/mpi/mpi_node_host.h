// MpiNodeHost: the NodeHost of rank 0 in a multi-rank live run. The LiveBackend above it is the
// single-process one, unchanged: same controller, policies, recovery, deadlines and token
// sequences (all on rank 0); only where the jobs run differs.
//
//   iteration        to the rank hosting the node (wire::encode: token ids and block ids); the
//                    sampled tokens come back in its kResult
//   transfer         within one rank: the whole job to that rank (its in-rank transport);
//                    between ranks: a send side to the source's rank and a receive side to the
//                    destination's, each moving the planned copies over the data plane (MPI
//                    between CPU ranks, NCCL between GPUs); the transfer completes when both
//                    sides have, and fails with the first side that failed (the other side is
//                    then told to stop waiting: kCancel)
//   crash            kCrash to the hosting rank (it poisons the node's pool)
//   a lost rank      every node it hosts is reported lost to the backend (kNodeDown for good)
// Nodes placed on rank 0 itself run in a LocalNodeHost of this process, the same code the ranks
// run. Threading: NodeHost's.
#pragma once

#include <memory>
#include <mutex>
#include <unordered_map>

#include "runtime/live/local_node_host.h"
#include "runtime/mpi/mpi_controller.h"

namespace flowkv::runtime {

class MpiNodeHost final : public NodeHost, private NodeHost::Listener, private MpiController::Receiver {
 public:
  // `device` and `peer_transport`: rank 0's own, when it hosts nodes (else null). Waits until
  // every rank has built its nodes (MpiController::wait_ready).
  MpiNodeHost(MpiController& controller, const core::Scenario& scenario, const RankLayout& layout, Device* device,
              std::unique_ptr<Transport> peer_transport, NodeHost::Listener& listener, core::Duration work_timeout);
  ~MpiNodeHost() override;

  void run_iteration(IterationJob job) override;
  void run_transfer(TransferJob job) override;
  void crash(uint32_t node) override;
  std::string device_name() const override;

 private:
  // NodeHost::Listener: rank 0's own nodes.
  void on_result(JobResult result) override;
  void on_node_lost(uint32_t node, std::string why) override;
  // MpiController::Receiver: the other ranks.
  void on_remote_result(JobResult result) override;
  void on_rank_lost(int rank, const std::string& why) override;

  MpiController& controller_;
  const core::Scenario& scenario_;
  const RankLayout& layout_;
  NodeHost::Listener& listener_;
  std::string rank0_device_;
  struct Sides {
    int left = 2;
    int ranks[2] = {0, 0};  // source's, destination's
    JobResult merged;
  };
  void cancel_sides(uint64_t work, const int (&ranks)[2]);
  std::mutex sides_mu_;
  std::unordered_map<uint64_t, Sides> sides_;  // transfers between ranks, by work id
  std::unique_ptr<LocalNodeHost> local_;       // rank 0's own nodes, or null
};

}  // namespace flowkv::runtime
