#include "runtime/mpi/control_plane.h"

#include <algorithm>

#include "core/base/error.h"
#include "runtime/mpi/mpi_check.h"

namespace flowkv::runtime {

using Clock = std::chrono::steady_clock;

ControlPlane::ControlPlane(MPI_Comm comm, Handler handler, Tick tick, OnError on_error, core::Duration max_idle_sleep)
    : comm_(comm), handler_(std::move(handler)), tick_(std::move(tick)), on_error_(std::move(on_error)),
      max_idle_sleep_(max_idle_sleep), thread_([this] { loop(); }) {}

ControlPlane::~ControlPlane() { stop(core::Duration::zero()); }

void ControlPlane::send(int dest, wire::Bytes message) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    outbox_.emplace_back(dest, std::move(message));
  }
  cv_.notify_one();
}

void ControlPlane::stop(core::Duration flush_timeout) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!thread_.joinable()) return;
    if (!stopping_) {
      stopping_ = true;
      flush_deadline_ = Clock::now() + std::chrono::nanoseconds(flush_timeout.ns());
    }
  }
  cv_.notify_one();
  thread_.join();
}

ControlPlaneStats ControlPlane::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

bool ControlPlane::post_queued() {
  std::deque<std::pair<int, wire::Bytes>> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    batch.swap(outbox_);
  }
  for (auto& [dest, bytes] : batch) {
    Pending p{MPI_REQUEST_NULL, std::move(bytes)};
    FLOWKV_MPI_CHECK(MPI_Isend(p.bytes.data(), static_cast<int>(p.bytes.size()), MPI_BYTE, dest, kTag, comm_, &p.request));
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.sent;
      stats_.bytes_sent += static_cast<int64_t>(p.bytes.size());
    }
    in_flight_.push_back(std::move(p));
  }
  return !batch.empty();
}

void ControlPlane::reap_sends() {
  auto keep = in_flight_.begin();
  for (auto it = in_flight_.begin(); it != in_flight_.end(); ++it) {
    int done = 0;
    FLOWKV_MPI_CHECK(MPI_Test(&it->request, &done, MPI_STATUS_IGNORE));
    if (done) continue;
    // Never a self-move: moving a vector onto itself frees its buffer (libstdc++), under a send
    // MPI has not finished reading (the receiver got garbage: "unknown kind").
    if (keep != it) *keep = std::move(*it);
    ++keep;
  }
  in_flight_.erase(keep, in_flight_.end());
}

bool ControlPlane::receive_one() {
  int found = 0;
  MPI_Message message;
  MPI_Status status;
  FLOWKV_MPI_CHECK(MPI_Improbe(MPI_ANY_SOURCE, kTag, comm_, &found, &message, &status));
  if (!found) return false;
  int count = 0;
  FLOWKV_MPI_CHECK(MPI_Get_count(&status, MPI_BYTE, &count));
  wire::Bytes bytes(static_cast<size_t>(std::max(count, 0)));
  FLOWKV_MPI_CHECK(MPI_Mrecv(bytes.data(), count, MPI_BYTE, &message, MPI_STATUS_IGNORE));
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.received;
    stats_.bytes_received += count;
  }
  try {
    handler_(status.MPI_SOURCE, bytes);
  } catch (const std::exception& e) {
    on_error_("rank " + std::to_string(status.MPI_SOURCE) + "'s message: " + e.what());
  }
  return true;
}

void ControlPlane::loop() {
  auto sleep = std::chrono::microseconds(1);
  const auto max_sleep = std::chrono::microseconds(std::max<int64_t>(1, max_idle_sleep_.ns() / 1000));
  for (;;) {
    bool busy = false;
    try {
      busy |= post_queued();
      while (receive_one()) busy = true;
      busy |= post_queued();
      reap_sends();
      tick_();
    } catch (const std::exception& e) {
      on_error_(e.what());
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_ && outbox_.empty() && (in_flight_.empty() || Clock::now() >= flush_deadline_)) break;
    if (busy) {
      sleep = std::chrono::microseconds(1);
      continue;
    }
    if (outbox_.empty()) cv_.wait_for(lock, sleep);
    sleep = std::min(sleep * 2, max_sleep);
  }
  // Sends that never left (a gone rank): MPI may still read their buffers, so they stay alive
  // with the process (released, not freed).
  for (Pending& p : in_flight_) {
    MPI_Request_free(&p.request);
    new wire::Bytes(std::move(p.bytes));  // deliberately kept: see above
  }
  in_flight_.clear();
}

}  // namespace flowkv::runtime
