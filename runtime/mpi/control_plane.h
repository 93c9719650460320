// ControlPlane: the messages of one rank of a multi-rank live run, over MPI point-to-point on
// the session's control communicator (one tag; MPI keeps each pair's messages in order, which
// the transfers between ranks rely on: runtime/live/local_node_host.h).
//
// One thread per rank owns the communicator: it posts the queued messages (MPI_Isend, buffers
// kept until MPI_Test says they left), receives what arrives (MPI_Improbe + MPI_Mrecv, so no
// other thread can steal a probed message) and hands each message to the handler, on that
// thread, in arrival order; between messages it calls `tick` (heartbeats). It never blocks in
// MPI: idle, it polls with MPI_Improbe and sleeps in growing steps of at most `max_idle_sleep`
// (the control plane's latency floor when idle; a send wakes it at once).
//
// A send to a rank that is gone may never complete: its buffer is kept, and stop() gives up on
// it after `flush_timeout`. Threading: send() from any thread; the handler and tick run on the
// plane's thread and may call send(). Handler exceptions stop nothing: they are reported through
// `on_error` (the run's owner decides).
#pragma once

#include <mpi.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core/base/time.h"
#include "runtime/mpi/wire.h"

namespace flowkv::runtime {

struct ControlPlaneStats {
  int64_t sent = 0, received = 0;
  int64_t bytes_sent = 0, bytes_received = 0;
};

class ControlPlane {
 public:
  static constexpr int kTag = 7;  // every control message
  using Handler = std::function<void(int source, const wire::Bytes& message)>;
  using Tick = std::function<void()>;
  using OnError = std::function<void(const std::string& what)>;

  ControlPlane(MPI_Comm comm, Handler handler, Tick tick, OnError on_error,
               core::Duration max_idle_sleep = core::Duration::micros(50));
  ~ControlPlane();  // stop(Duration::zero()) unless stopped
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  void send(int dest, wire::Bytes message);
  // Posts what is queued, waits up to `flush_timeout` for the sends to leave, stops the thread.
  void stop(core::Duration flush_timeout);
  ControlPlaneStats stats() const;

 private:
  void loop();
  bool post_queued();
  bool receive_one();
  void reap_sends();

  MPI_Comm comm_;
  Handler handler_;
  Tick tick_;
  OnError on_error_;
  core::Duration max_idle_sleep_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<int, wire::Bytes>> outbox_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point flush_deadline_;
  struct Pending {
    MPI_Request request;
    wire::Bytes bytes;
  };
  std::vector<Pending> in_flight_;  // plane thread only
  ControlPlaneStats stats_;         // under mu_
  std::thread thread_;
};

}  // namespace flowkv::runtime
