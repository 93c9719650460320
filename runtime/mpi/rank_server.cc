#include "runtime/mpi/rank_server.h"

#include <cstdio>

#include "core/base/error.h"

namespace flowkv::runtime {

using Clock = std::chrono::steady_clock;

RankServer::RankServer(MpiSession& session, const core::Scenario& scenario, const RankLayout& layout,
                       RankServerOptions options)
    : session_(session), scenario_(scenario), layout_(layout), options_(std::move(options)), heard_(Clock::now()) {
  plane_ = std::make_unique<ControlPlane>(
      session.control(),
      [this](int source, const wire::Bytes& m) {
        if (source == 0) handle(m);
      },
      [this] { tick(); },
      [this](const std::string& what) {
        if (errors_printed_++ < 20) std::fprintf(stderr, "live (rank %d): control plane: %s\n", session_.rank(), what.c_str());
      },
      options_.plane.max_idle_sleep);
}

RankServer::~RankServer() {
  plane_->stop(core::Duration::seconds(1));
  std::lock_guard<std::mutex> lock(host_mu_);
  host_.reset();
}

void RankServer::on_result(JobResult result) { plane_->send(0, wire::encode(result)); }

void RankServer::fatal(const std::string& why) {
  wire::Writer w(wire::Kind::kFatal);
  w.str(why);
  plane_->send(0, w.take());
}

void RankServer::handle(const wire::Bytes& message) {
  wire::Reader r(message);
  {
    std::lock_guard<std::mutex> lock(mu_);
    heard_ = Clock::now();
  }
  switch (r.kind()) {
    case wire::Kind::kHello: {
      const uint64_t digest = r.u64();
      r.end();
      std::lock_guard<std::mutex> lock(mu_);
      hello_ = true;
      digest_ = digest;
      cv_.notify_all();
      return;
    }
    case wire::Kind::kPing: {
      wire::Writer w(wire::Kind::kPong);
      w.u64(r.u64());
      plane_->send(0, w.take());
      return;
    }
    case wire::Kind::kShutdown: {
      const int phase = r.u8();
      std::lock_guard<std::mutex> lock(mu_);
      shutdown_phase_ = std::max(shutdown_phase_, phase);
      cv_.notify_all();
      return;
    }
    default:
      break;
  }
  std::lock_guard<std::mutex> lock(host_mu_);
  if (r.kind() == wire::Kind::kPeerLost) {
    const int rank = r.i32();
    r.end();
    if (host_) host_->peer_lost(rank);
    return;
  }
  if (r.kind() == wire::Kind::kCancel) {
    const uint64_t work = r.u64();
    r.end();
    if (host_) host_->cancel_side(work);
    return;
  }
  if (!host_) {
    // Not built yet (a bug of rank 0) or stopped already (a job after the end): refuse loudly.
    throw core::Error(core::ErrorKind::kRuntime, std::string("a ") + wire::to_string(r.kind()) +
                                                     " message for a rank without nodes running");
  }
  switch (r.kind()) {
    case wire::Kind::kIteration: {
      IterationJob job = wire::decode_iteration(r);
      r.end();
      host_->run_iteration(std::move(job));
      return;
    }
    case wire::Kind::kTransfer:
    case wire::Kind::kSide: {
      int side = -1, peer = -1;
      TransferJob job = wire::decode_transfer(r, side, peer);
      r.end();
      if (side < 0) {
        host_->run_transfer(std::move(job));
      } else {
        host_->run_transfer_side(std::move(job), side == 1, peer);
      }
      return;
    }
    case wire::Kind::kCrash: {
      const uint32_t node = r.u32();
      r.end();
      host_->crash(node);
      return;
    }
    default:
      throw core::Error(core::ErrorKind::kRuntime,
                        std::string("rank ") + std::to_string(session_.rank()) + " got an unexpected " +
                            wire::to_string(r.kind()) + " message");
  }
}

void RankServer::tick() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!controller_lost_.empty() || shutdown_phase_ >= 1) return;
  const double quiet = std::chrono::duration<double>(Clock::now() - heard_).count();
  // Before the hello, rank 0 may still be reading its trace: the startup timeout applies.
  const double limit = hello_ ? options_.plane.heartbeat_timeout.seconds() : options_.plane.startup_timeout.seconds();
  if (quiet > limit) {
    char why[256];
    std::snprintf(why, sizeof why, "lost the controller: rank 0 (host %s, pid %d) silent for %.1f s", session_.host(0).c_str(),
                  session_.pid(0), quiet);
    controller_lost_ = why;
    cv_.notify_all();
  }
}

RankServer::End RankServer::run() {
  End end;
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return hello_ || !controller_lost_.empty() || shutdown_phase_ >= 0; });
  if (!controller_lost_.empty()) return End{false, 3, controller_lost_};
  if (!hello_) return End{false, 0, ""};  // rank 0 failed before the run (it says why)
  const uint64_t mine = scenario_digest(scenario_);
  const bool same = digest_ == mine;
  lock.unlock();
  if (!same) {
    fatal("its scenario differs from rank 0's (another file, or other --set / flags?): every rank must run the same one");
  } else {
    try {
      if (layout_.hosts_nodes(session_.rank())) {
        device_ = options_.make_device();
        LocalNodeHostOptions o;
        o.work_timeout = options_.work_timeout;
        o.nodes = layout_.rank_nodes[static_cast<size_t>(session_.rank())];
        if (options_.make_peer_transport) {
          auto peer = std::make_shared<std::unique_ptr<Transport>>(options_.make_peer_transport());
          o.make_peer_transport = [peer] { return std::move(*peer); };
        }
        NodeHost::Listener& self = *this;
        auto host = std::make_unique<LocalNodeHost>(scenario_, *device_, self, std::move(o));
        std::lock_guard<std::mutex> h(host_mu_);
        host_ = std::move(host);
      }
      wire::Writer w(wire::Kind::kReady);
      w.str(device_ ? device_->name() : "no nodes");
      plane_->send(0, w.take());
    } catch (const std::exception& e) {
      fatal(e.what());
    }
  }
  lock.lock();
  bool said_bye = false;
  for (;;) {
    cv_.wait(lock, [&] {
      return !controller_lost_.empty() || shutdown_phase_ >= 1 || (shutdown_phase_ == 0 && !said_bye);
    });
    if (shutdown_phase_ >= 1) {
      end.finalize = shutdown_phase_ == 2;
      break;
    }
    if (!controller_lost_.empty()) return End{false, 3, controller_lost_};
    // Phase 0: stop the nodes (running jobs finish; their results still go out), then say bye.
    lock.unlock();
    std::unique_ptr<LocalNodeHost> host;
    {
      std::lock_guard<std::mutex> h(host_mu_);
      host = std::move(host_);
    }
    host.reset();
    plane_->send(0, wire::Writer(wire::Kind::kBye).take());
    said_bye = true;
    lock.lock();
  }
  lock.unlock();
  {
    std::lock_guard<std::mutex> h(host_mu_);
    host_.reset();
  }
  plane_->stop(core::Duration::seconds(2));
  return end;
}

}  // namespace flowkv::runtime
