// RankServer: a rank other than 0 in a multi-rank live run: it hosts the nodes placed on it and
// runs what rank 0's MpiNodeHost sends (docs/live.md, "Across processes and hosts").
//
//   startup   waits for kHello (startup_timeout), checks that rank 0 runs the same scenario,
//             builds its device and nodes (LocalNodeHost) and the data-plane transport, says
//             kReady (or kFatal with the reason)
//   serving   jobs to the LocalNodeHost; its results back to rank 0; kPing answered with kPong
//             on the control plane's own thread (a long iteration does not make a rank silent);
//             kPeerLost cancels transfers with that rank
//   the end   kShutdown phase 0: the nodes stop (the running jobs finish), kBye; phase 1 says
//             whether to MPI_Finalize. Rank 0 silent for heartbeat_timeout: the controller is
//             lost and run() returns code 3 with the reason (the process must exit non-zero
//             without MPI_Finalize, which would wait for rank 0 forever).
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "runtime/live/local_node_host.h"
#include "runtime/mpi/control_plane.h"
#include "runtime/mpi/mpi_controller.h"
#include "runtime/mpi/mpi_session.h"
#include "runtime/mpi/placement.h"

namespace flowkv::runtime {

struct RankServerOptions {
  MpiPlaneOptions plane;
  core::Duration work_timeout = core::Duration::seconds(300);
  std::function<std::unique_ptr<Device>()> make_device;             // called when the rank hosts nodes
  std::function<std::unique_ptr<Transport>()> make_peer_transport;  // idem, after the device
};

class RankServer final : private NodeHost::Listener {
 public:
  struct End {
    bool finalize = false;  // every rank answered: MPI_Finalize
    int code = 0;           // the process's exit code
    std::string why;        // when code != 0
  };

  RankServer(MpiSession& session, const core::Scenario& scenario, const RankLayout& layout, RankServerOptions options);
  ~RankServer() override;
  End run();

 private:
  void on_result(JobResult result) override;
  void on_node_lost(uint32_t, std::string) override {}
  void handle(const wire::Bytes& message);
  void tick();
  void fatal(const std::string& why);

  MpiSession& session_;
  const core::Scenario& scenario_;
  const RankLayout& layout_;
  RankServerOptions options_;
  std::unique_ptr<Device> device_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool hello_ = false;
  uint64_t digest_ = 0;
  int shutdown_phase_ = -1;  // 0: stop nodes; 1: leave; 2: finalize
  std::string controller_lost_;
  std::chrono::steady_clock::time_point heard_;
  int errors_printed_ = 0;  // the plane's thread only
  std::mutex host_mu_;                   // the plane's thread uses host_; run() destroys it
  std::unique_ptr<LocalNodeHost> host_;
  std::unique_ptr<ControlPlane> plane_;  // last: stopped first
};

}  // namespace flowkv::runtime
