#include "runtime/mpi/mpi_controller.h"

#include <algorithm>
#include <cstdio>

#include "core/base/error.h"

namespace flowkv::runtime {

using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

uint64_t scenario_digest(const core::Scenario& scenario) {
  uint64_t h = 1469598103934665603ull;
  for (const unsigned char c : scenario.resolved.dump()) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

MpiController::MpiController(MpiSession& session, const core::Scenario& scenario, const RankLayout& layout,
                             const MpiPlaneOptions& options)
    : session_(session), scenario_(scenario), layout_(layout), options_(options) {
  const auto n = static_cast<size_t>(session.size());
  heard_.assign(n, Clock::now());
  ready_.assign(n, false);
  lost_.assign(n, false);
  bye_.assign(n, false);
  devices_.assign(n, "");
  ready_[0] = bye_[0] = true;
  last_ping_ = Clock::now();
  plane_ = std::make_unique<ControlPlane>(
      session.control(), [this](int source, const wire::Bytes& m) { handle(source, m); }, [this] { tick(); },
      [this](const std::string& what) {
        std::lock_guard<std::mutex> lock(mu_);
        if (errors_.size() < 20) errors_.push_back("control plane: " + what);
      },
      options.max_idle_sleep);
  const uint64_t digest = scenario_digest(scenario);
  for (int r = 1; r < session.size(); ++r) {
    wire::Writer w(wire::Kind::kHello);
    w.u64(digest);
    plane_->send(r, w.take());
  }
}

MpiController::~MpiController() {
  attach(nullptr);
  plane_->stop(core::Duration::zero());
}

void MpiController::attach(Receiver* receiver) {
  std::lock_guard<std::mutex> lock(receiver_mu_);
  receiver_ = receiver;
}

void MpiController::send(int rank, wire::Bytes message) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (lost_[static_cast<size_t>(rank)]) return;
  }
  plane_->send(rank, std::move(message));
}

bool MpiController::lost(int rank) const {
  std::lock_guard<std::mutex> lock(mu_);
  return lost_[static_cast<size_t>(rank)];
}

std::vector<int> MpiController::lost_ranks() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<int> out;
  for (size_t r = 0; r < lost_.size(); ++r) {
    if (lost_[r]) out.push_back(static_cast<int>(r));
  }
  return out;
}

std::vector<std::string> MpiController::errors() const {
  std::lock_guard<std::mutex> lock(mu_);
  return errors_;
}

std::string MpiController::device_names() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (size_t r = 0; r < devices_.size(); ++r) {
    if (devices_[r].empty()) continue;
    out += (out.empty() ? "" : "; ") + ("rank " + std::to_string(r) + ": " + devices_[r]);
  }
  return out;
}

void MpiController::wait_ready() {
  const auto deadline = Clock::now() + std::chrono::nanoseconds(options_.startup_timeout.ns());
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (!fatal_.empty()) throw core::Error(core::ErrorKind::kRuntime, fatal_);
    int waiting = -1;
    for (size_t r = 0; r < ready_.size(); ++r) {
      if (lost_[r]) throw core::Error(core::ErrorKind::kRuntime, "rank " + std::to_string(r) + " was lost while starting");
      if (!ready_[r] && waiting < 0) waiting = static_cast<int>(r);
    }
    if (waiting < 0) return;
    if (Clock::now() >= deadline) {
      throw core::Error(core::ErrorKind::kRuntime,
                        "rank " + std::to_string(waiting) + " (host " + session_.host(waiting) + ") did not build its nodes within " +
                            std::to_string(options_.startup_timeout.seconds()) + " s (--startup-timeout-s)");
    }
    cv_.wait_until(lock, std::min(deadline, Clock::now() + std::chrono::milliseconds(100)));
  }
}

void MpiController::handle(int source, const wire::Bytes& message) {
  wire::Reader r(message);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (source <= 0 || source >= session_.size() || lost_[static_cast<size_t>(source)]) return;  // a late word
    heard_[static_cast<size_t>(source)] = Clock::now();
  }
  switch (r.kind()) {
    case wire::Kind::kReady: {
      std::string device = r.str();
      r.end();
      std::lock_guard<std::mutex> lock(mu_);
      ready_[static_cast<size_t>(source)] = true;
      devices_[static_cast<size_t>(source)] = std::move(device);
      cv_.notify_all();
      return;
    }
    case wire::Kind::kFatal: {
      const std::string why = "rank " + std::to_string(source) + " (host " + session_.host(source) + "): " + r.str();
      std::unique_lock<std::mutex> lock(mu_);
      const bool started = std::all_of(ready_.begin(), ready_.end(), [](bool b) { return b; });
      if (!started) {
        if (fatal_.empty()) fatal_ = why;
        cv_.notify_all();
        return;
      }
      lock.unlock();
      lose(source, why);
      return;
    }
    case wire::Kind::kPong:
      return;
    case wire::Kind::kBye: {
      std::lock_guard<std::mutex> lock(mu_);
      bye_[static_cast<size_t>(source)] = true;
      cv_.notify_all();
      return;
    }
    case wire::Kind::kResult: {
      JobResult result = wire::decode_result(r);
      r.end();
      std::lock_guard<std::mutex> lock(receiver_mu_);
      if (receiver_) receiver_->on_remote_result(std::move(result));
      return;
    }
    default:
      throw core::Error(core::ErrorKind::kRuntime,
                        std::string("rank 0 got an unexpected ") + wire::to_string(r.kind()) + " message");
  }
}

void MpiController::tick() {
  const auto now = Clock::now();
  const auto period = std::chrono::nanoseconds(std::max<int64_t>(options_.heartbeat_timeout.ns() / 5, 1'000'000));
  std::vector<std::pair<int, std::string>> silent;
  bool ping = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (now - last_ping_ >= period) {
      ping = true;
      last_ping_ = now;
      ++ping_seq_;
    }
    for (int k = 1; k < session_.size(); ++k) {
      const auto i = static_cast<size_t>(k);
      if (lost_[i]) continue;
      const double quiet = seconds_since(heard_[i]);
      if (quiet > options_.heartbeat_timeout.seconds()) {
        char why[256];
        std::snprintf(why, sizeof why, "rank %d (host %s, pid %d) silent for %.1f s (heartbeat timeout %.1f s)", k,
                      session_.host(k).c_str(), session_.pid(k), quiet, options_.heartbeat_timeout.seconds());
        silent.emplace_back(k, why);
      }
    }
  }
  for (const auto& [k, why] : silent) lose(k, why);
  if (ping) {
    for (int k = 1; k < session_.size(); ++k) {
      wire::Writer w(wire::Kind::kPing);
      w.u64(ping_seq_);
      send(k, w.take());
    }
  }
}

void MpiController::lose(int rank, const std::string& why) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (lost_[static_cast<size_t>(rank)]) return;
    lost_[static_cast<size_t>(rank)] = true;
    if (errors_.size() < 20) errors_.push_back(why);
    cv_.notify_all();
  }
  std::fprintf(stderr, "live: %s: its nodes (%s) are down for good\n", why.c_str(),
               layout_.node_names(scenario_, rank).c_str());
  for (int k = 1; k < session_.size(); ++k) {
    if (k == rank) continue;
    wire::Writer w(wire::Kind::kPeerLost);
    w.i32(rank);
    send(k, w.take());
  }
  std::lock_guard<std::mutex> lock(receiver_mu_);
  if (receiver_) receiver_->on_rank_lost(rank, why);
}

void MpiController::stop_ranks() {
  for (int k = 1; k < session_.size(); ++k) {
    wire::Writer w(wire::Kind::kShutdown);
    w.u8(0);  // phase 0: stop your nodes, say bye
    send(k, w.take());
  }
  // A rank that stops answering now is lost by the heartbeat (tick), which ends the wait; the
  // bound is for a rank that keeps answering pings but never says bye.
  const auto deadline = Clock::now() + std::chrono::nanoseconds(options_.heartbeat_timeout.ns() * 2);
  std::vector<int> stuck;
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_until(lock, deadline, [&] {
      for (size_t r = 0; r < bye_.size(); ++r) {
        if (!bye_[r] && !lost_[r]) return false;
      }
      return true;
    });
    for (size_t r = 0; r < bye_.size(); ++r) {
      if (!bye_[r] && !lost_[r]) stuck.push_back(static_cast<int>(r));
    }
  }
  for (const int r : stuck) lose(r, "rank " + std::to_string(r) + " did not stop its nodes when the run ended");
}

void MpiController::end(bool finalize) {
  for (int k = 1; k < session_.size(); ++k) {
    wire::Writer w(wire::Kind::kShutdown);
    w.u8(finalize ? 2 : 1);  // phase 1: finalize (2) or leave (1)
    send(k, w.take());
  }
  attach(nullptr);
  plane_->stop(core::Duration::seconds(2));
}

}  // namespace flowkv::runtime
