#include "runtime/mpi/mpi_live.h"

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "core/base/error.h"
#include "runtime/mpi/mpi_node_host.h"
#include "runtime/mpi/mpi_transport.h"
#include "runtime/mpi/nccl_peer.h"

namespace flowkv::runtime {

MpiLive::MpiLive(MpiSession& session, const core::Scenario& scenario, MpiLiveOptions options)
    : session_(session), scenario_(scenario), options_(std::move(options)),
      layout_(place_nodes(scenario, session.size(), session.hosts())) {
  if (options_.gpu) check_one_rank_per_gpu(layout_, session.hosts());
}

MpiLive::~MpiLive() = default;

std::unique_ptr<Transport> MpiLive::make_peer_transport() {
  if (options_.gpu) return make_nccl_peer_transport(session_, layout_, options_.plane.startup_timeout);
  return std::make_unique<MpiTransport>(session_.data(), session_.tag_ub());
}

LiveRunResult MpiLive::run(const traces::Trace& trace) {
  FLOWKV_CHECK(session_.rank() == 0, "MpiLive::run on a rank other than 0");
  controller_ = std::make_unique<MpiController>(session_, scenario_, layout_, options_.plane);
  std::unique_ptr<Transport> peer;
  if (layout_.hosts_nodes(0)) {
    device_ = options_.make_device(layout_);
    peer = make_peer_transport();
  }
  MpiController& controller = *controller_;
  LiveRunResult result = run_live(
      scenario_, trace,
      [&](NodeHost::Listener& listener) {
        return std::make_unique<MpiNodeHost>(controller, scenario_, layout_, device_.get(), std::move(peer), listener,
                                             options_.run.backend.work_timeout);
      },
      options_.run);
  controller.stop_ranks();
  nlohmann::ordered_json& live = result.run.summary["live"];
  nlohmann::ordered_json ranks = nlohmann::ordered_json::array();
  for (int r = 0; r < session_.size(); ++r) {
    nlohmann::ordered_json o = nlohmann::ordered_json::object();
    o["rank"] = r;
    o["host"] = session_.host(r);
    o["nodes"] = layout_.node_names(scenario_, r);
    if (layout_.hosts_nodes(r) && options_.gpu) o["gpu"] = layout_.rank_device[static_cast<size_t>(r)];
    ranks.push_back(std::move(o));
  }
  live["ranks"] = std::move(ranks);
  live["lost_ranks"] = controller.lost_ranks();
  const ControlPlaneStats s = controller.plane_stats();
  nlohmann::ordered_json plane = nlohmann::ordered_json::object();
  plane["messages_sent"] = s.sent;
  plane["messages_received"] = s.received;
  plane["bytes_sent"] = s.bytes_sent;
  plane["bytes_received"] = s.bytes_received;
  plane["errors"] = controller.errors();
  live["control_plane"] = std::move(plane);
  return result;
}

int MpiLive::end_controller(int code) {
  const std::vector<int> lost = controller_ ? controller_->lost_ranks() : std::vector<int>{};
  const bool finalize = lost.empty();
  if (controller_) controller_->end(finalize);
  controller_.reset();
  device_.reset();
  if (finalize) {
    session_.finalize(core::Duration::seconds(60), code);
    return code;
  }
  std::string names;
  for (const int r : lost) names += (names.empty() ? "" : ", ") + std::to_string(r);
  if (options_.recovery) {
    for (const int r : lost) {
      if (session_.host(r) != session_.host(0)) {
        std::fprintf(stderr,
                     "live: rank %d (host %s, pid %d) was lost and is on another host: if it is still there, mpirun "
                     "waits for it; kill it there\n",
                     r, session_.host(r).c_str(), session_.pid(r));
        continue;
      }
      if (::kill(session_.pid(r), 0) == 0) ::kill(session_.pid(r), SIGKILL);
    }
    std::fprintf(stderr, "live: rank(s) %s lost; ending without MPI_Finalize\n", names.c_str());
    session_.leave(code);
  }
  std::fprintf(stderr, "live: rank(s) %s lost; ending the job with MPI_Abort(%d) (mpirun --enable-recovery avoids it)\n",
               names.c_str(), code);
  session_.abort(code);
}

void MpiLive::abandon_ranks(MpiSession& session) {
  if (session.rank() != 0) return;
  wire::Writer w(wire::Kind::kShutdown);
  w.u8(1);  // phase 1, leave
  const wire::Bytes bytes = w.take();
  std::vector<MPI_Request> sends(static_cast<size_t>(session.size()), MPI_REQUEST_NULL);
  for (int k = 1; k < session.size(); ++k) {
    MPI_Isend(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, k, ControlPlane::kTag, session.control(),
              &sends[static_cast<size_t>(k)]);
  }
  try {
    for (MPI_Request& r : sends) {
      if (r != MPI_REQUEST_NULL) wait_request(r, core::Duration::seconds(1), "tell the ranks the run failed");
    }
  } catch (const std::exception&) {
    // A rank that does not take it in a second is ended by MPI_Abort, or by its own heartbeat.
  }
}

RankServer::End MpiLive::serve() {
  FLOWKV_CHECK(session_.rank() != 0, "MpiLive::serve on rank 0");
  RankServerOptions o;
  o.plane = options_.plane;
  o.work_timeout = options_.run.backend.work_timeout;
  o.make_device = [this] { return options_.make_device(layout_); };
  o.make_peer_transport = [this] { return make_peer_transport(); };
  RankServer server(session_, scenario_, layout_, std::move(o));
  return server.run();
}

int MpiLive::end_rank(const RankServer::End& end) {
  if (end.code != 0) {
    std::fprintf(stderr, "flowkv live (rank %d): %s; exiting\n", session_.rank(), end.why.c_str());
    session_.leave(end.code);
  }
  if (end.finalize) {
    session_.finalize();
    return 0;
  }
  if (options_.recovery) session_.leave(0);
  // Rank 0 ends the job with MPI_Abort: wait for it, boundedly.
  std::this_thread::sleep_for(std::chrono::seconds(60));
  session_.leave(0);
}

}  // namespace flowkv::runtime
