// MpiController: rank 0's end of the live control plane (docs/live.md, "Across processes and
// hosts"). It owns the ControlPlane of rank 0 for the whole run:
//
//   start     kHello (the scenario's digest) to every rank; wait_ready() until each answered
//             kReady (its nodes built) or one failed (kFatal, or silent: an error naming it)
//   run       results from the ranks go to the attached Receiver (MpiNodeHost); every rank
//             gets a kPing each heartbeat_timeout / 5 and any message counts as an answer: a
//             rank silent for heartbeat_timeout is lost (the receiver hears it, the other ranks
//             get kPeerLost so their transfers with it stop waiting), and stays lost
//   stop      stop_ranks(): kShutdown to the ranks still answering, their kBye awaited (bounded)
//   end       end(): the last kShutdown says whether to MPI_Finalize (every rank answered) or
//             not (one was lost: MPI_Finalize would wait for it forever)
//
// Threading: the plane's thread runs the handler and the heartbeats; send(), lost() and the
// rest may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/spec/scenario.h"
#include "runtime/live/node_host.h"
#include "runtime/mpi/control_plane.h"
#include "runtime/mpi/mpi_session.h"
#include "runtime/mpi/placement.h"

namespace flowkv::runtime {

struct MpiPlaneOptions {
  core::Duration heartbeat_timeout = core::Duration::seconds(10);
  core::Duration startup_timeout = core::Duration::seconds(600);
  core::Duration max_idle_sleep = core::Duration::micros(50);
};

// FNV-1a of the resolved scenario: every rank must run the same one.
uint64_t scenario_digest(const core::Scenario& scenario);

class MpiController {
 public:
  class Receiver {
   public:
    virtual ~Receiver() = default;
    virtual void on_remote_result(JobResult result) = 0;
    virtual void on_rank_lost(int rank, const std::string& why) = 0;
  };

  MpiController(MpiSession& session, const core::Scenario& scenario, const RankLayout& layout,
                const MpiPlaneOptions& options);
  ~MpiController();

  // Blocks until every other rank is ready; throws (kRuntime, naming the rank) when one reports
  // a failure, is lost, or startup_timeout passes.
  void wait_ready();
  void attach(Receiver* receiver);  // null: detach
  // To a rank still answering (dropped for a lost one).
  void send(int rank, wire::Bytes message);
  bool lost(int rank) const;
  std::vector<int> lost_ranks() const;
  std::string device_names() const;  // "rank 1: cpu (1 threads); ..."
  ControlPlaneStats plane_stats() const { return plane_->stats(); }
  std::vector<std::string> errors() const;

  // Every rank still answering stops its nodes and says kBye (or is lost after heartbeat_timeout).
  void stop_ranks();
  // The last word: ranks finalize (true) or exit without it; stops the plane.
  void end(bool finalize);

 private:
  void handle(int source, const wire::Bytes& message);
  void tick();
  void lose(int rank, const std::string& why);

  MpiSession& session_;
  const core::Scenario& scenario_;
  const RankLayout& layout_;
  MpiPlaneOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::chrono::steady_clock::time_point> heard_;
  std::vector<bool> ready_, lost_, bye_;
  std::vector<std::string> devices_;
  std::string fatal_;
  std::vector<std::string> errors_;
  std::mutex receiver_mu_;  // held while the receiver is called: attach(nullptr) waits for it
  Receiver* receiver_ = nullptr;
  std::chrono::steady_clock::time_point last_ping_;
  uint64_t ping_seq_ = 0;
  std::unique_ptr<ControlPlane> plane_;  // last: its thread stops first
};

}  // namespace flowkv::runtime
