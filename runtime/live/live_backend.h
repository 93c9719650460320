// LiveBackend: the Backend of a live run. The controller, schedulers, policies, recovery and
// result writers are the ones the simulator runs; this backend executes their Work for real.
//
//   time        steady wall clock, in ns since the backend was made
//   arrivals    replayed from the trace in real time, compressed by `time_scale`; an arrival the
//               controller is too busy to take on time is delivered late and stamped when it is
//               delivered (times never go backwards); the lag is reported
//   iteration   runs on its node's worker thread: the executor reads and writes the node's KV
//               pool at the blocks the Work names; the sampled tokens travel back with the
//               completion and are appended to the request's sequence on the controller's thread
//   transfer    runs on the sending node's transfer worker: the copies core::plan_transfer makes
//               of the Work's block lists, through the device's Transport (one call per copy);
//               per-layer transfers gather into a staging buffer and scatter out of one
//   role flip   completes after its modelled cost (nothing to move: a node keeps its pool)
//   timer       completes after its delay
//   faults      the scenario's faults at their times: a crash reports kNodeDown, fails the
//               node's work in flight and transfers from or to it, and poisons its pool (a later
//               read of lost KV shows as a wrong token); kNodeUp when it ends. link-down fails
//               transfers from or to the node; link-slow stretches them by 1 / factor.
// No wait can hang: an iteration or transfer not done `work_timeout` after its submission comes
// back kTimedOut (its late result is ignored) and goes through the controller's recovery.
//
// Threading: the controller calls now/submit/next from one thread; node workers run jobs and
// post results to a queue next() drains. The token sequences are touched by the controller's
// thread only. Pools are shared between a node's iterations and the transfers that read or
// write it (disjoint blocks, as the controller guarantees) under a shared lock; poisoning takes
// it exclusively.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <shared_mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/spec/scenario.h"
#include "core/work/backend.h"
#include "runtime/executor.h"
#include "runtime/live/worker.h"

namespace flowkv::runtime {

struct LiveOptions {
  double time_scale = 1.0;                                  // arrivals come time_scale x faster
  core::Duration work_timeout = core::Duration::seconds(300);
};

// One executed iteration, for calibration and fidelity (iterations.csv).
struct IterationSample {
  uint32_t node = 0;
  core::Time submitted, started, finished;  // backend time
  int64_t prefill_items = 0, prefill_tokens = 0, prefill_context = 0;  // context: tokens before the chunks
  int64_t attention_pairs = 0;  // (query, key) pairs attended by the prefill chunks
  int64_t decode_items = 0, decode_context = 0;
  bool ok = true;
};

struct LiveStats {
  int64_t arrivals_late = 0;        // delivered more than 1 ms after their time
  core::Duration max_arrival_lag;
  int64_t timed_out = 0;            // iterations and transfers past their deadline
  std::vector<std::string> errors;  // executor / transport failures (the first few)
  std::vector<IterationSample> iterations;
  core::Duration controller_busy;   // time the controller spent between next() calls
};

class LiveBackend final : public core::Backend {
 public:
  // `requests` (sorted by arrival) and `device` must outlive the backend. Makes every node's
  // executor (its KV pool on `device`) now; a pool that does not fit is an input error.
  LiveBackend(const core::Scenario& scenario, std::span<const core::Request> requests, Device& device,
              const LiveOptions& options);
  ~LiveBackend() override;

  core::Time now() const override { return last_; }
  void submit(const core::Work& work) override;
  std::optional<core::Completion> next() override;

  // Request r's tokens: its prompt, then every token generated so far.
  const std::vector<int32_t>& tokens(core::RequestId r) const { return tokens_[core::to_int(r)]; }
  const LiveStats& stats() const { return stats_; }
  int64_t events() const { return events_; }

 private:
  struct Node;
  struct Done;
  struct InFlight;
  enum class Kind : uint8_t { kIteration, kTransfer, kFlip };

  core::Time clock() const;
  void post_done(Done done);
  void deliver(core::Completion c);
  bool take_worker_result(core::Time limit);
  void expire_deadlines(core::Time now);
  void start_fault(size_t index, core::Time t);
  void end_fault(size_t index, core::Time t);
  void fail_in_flight(uint32_t node, bool iterations_too, core::Time t);
  void submit_iteration(const core::Iteration& it);
  void submit_transfer(const core::Transfer& t);
  core::Time next_due() const;

  const core::Scenario& scenario_;
  std::span<const core::Request> requests_;
  Device& device_;
  LiveOptions options_;
  std::chrono::steady_clock::time_point start_;
  core::Time last_;
  std::optional<std::chrono::steady_clock::time_point> returned_at_;  // for controller_busy
  size_t next_arrival_ = 0;
  std::vector<core::Request> scaled_;      // the requests with arrivals divided by time_scale
  std::vector<std::vector<int32_t>> tokens_;
  std::vector<std::unique_ptr<Node>> nodes_;

  // Results from the workers, stamped when posted (so in time order).
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Done> done_;

  // The controller thread's own state.
  std::deque<core::Completion> ready_;      // completions made by next() itself, in order
  std::unordered_map<uint64_t, InFlight> in_flight_;
  int64_t outstanding_ = 0;                 // iterations, transfers and flips in flight
  struct Timed {
    core::Time due;
    uint64_t seq;
    uint64_t work;  // WorkId; for faults: index + 1 into scenario.faults, with kind in `what`
    uint8_t what;   // 0 timer, 1 flip end, 2 fault start, 3 fault end
    bool operator>(const Timed& o) const { return due != o.due ? due > o.due : seq > o.seq; }
  };
  std::priority_queue<Timed, std::vector<Timed>, std::greater<>> timed_;
  uint64_t timed_seq_ = 0;
  LiveStats stats_;
  int64_t events_ = 0;
};

}  // namespace flowkv::runtime
