// A live run over MPI ranks (`mpirun -n N flowkv live ...`, `srun ... flowkv live ...`;
// docs/live.md, "Across processes and hosts"): rank 0 runs the controller (run_live with an
// MpiNodeHost: the single-process backend, unchanged), every node runs on the rank its placement
// names (RankServer), KV moves between ranks over MPI (CPU) or NCCL (GPU).
//
// Lifecycle, on every rank: MpiLive(session, scenario, options) places the nodes (input errors
// name `placement.<node>`); then rank 0 calls run(trace), writes its result files and calls
// end_controller(code); the other ranks call serve() and then end_rank(). The end:
//   every rank answered         all MPI_Finalize (bounded), exit `code`
//   a rank was lost (silent)    no MPI_Finalize (it would wait for the lost rank forever):
//     mpirun --enable-recovery  rank 0 kills the lost ranks of its own host still alive
//                               (SIGKILL: a stopped one), every survivor exits without it
//     otherwise                 rank 0 ends the job with MPI_Abort(code): mpirun kills every
//                               rank (a stopped one too) and exits with `code`
//   rank 0 lost                 the other ranks exit 3, naming it, after heartbeat_timeout
#pragma once

#include <functional>
#include <memory>
#include <optional>

#include "runtime/live/live_run.h"
#include "runtime/mpi/mpi_controller.h"
#include "runtime/mpi/mpi_session.h"
#include "runtime/mpi/placement.h"
#include "runtime/mpi/rank_server.h"

namespace flowkv::runtime {

struct MpiLiveOptions {
  LiveRunOptions run;     // rank 0's; run.backend.work_timeout bounds every rank's jobs
  MpiPlaneOptions plane;
  bool gpu = false;       // KV between ranks over NCCL (else MPI)
  bool recovery = false;  // launched with mpirun --enable-recovery (runtime/live/launch_env.h)
  // The device of this rank, which hosts nodes (its GPU is layout.rank_device[rank]).
  std::function<std::unique_ptr<Device>(const RankLayout& layout)> make_device;
};

class MpiLive {
 public:
  MpiLive(MpiSession& session, const core::Scenario& scenario, MpiLiveOptions options);
  ~MpiLive();

  const RankLayout& layout() const { return layout_; }
  // Rank 0. summary.json's "live" object gains "ranks", "lost_ranks" and "control_plane".
  LiveRunResult run(const traces::Trace& trace);
  int end_controller(int code);
  // Rank 0 failed (an error before or during the run): tells every other rank to leave at once
  // (bounded), before the caller aborts the job, so that no rank waits out a timeout.
  static void abandon_ranks(MpiSession& session);
  // The other ranks.
  RankServer::End serve();
  int end_rank(const RankServer::End& end);

 private:
  std::unique_ptr<Transport> make_peer_transport();

  MpiSession& session_;
  const core::Scenario& scenario_;
  MpiLiveOptions options_;
  RankLayout layout_;
  std::unique_ptr<Device> device_;  // rank 0's, when it hosts nodes
  std::unique_ptr<MpiController> controller_;
};

}  // namespace flowkv::runtime
