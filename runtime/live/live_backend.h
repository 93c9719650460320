// LiveBackend: the Backend of a live run. The controller, schedulers, policies, recovery and
// result writers are the ones the simulator runs; this backend executes their Work for real.
//
//   time        steady wall clock, in ns since the backend was made
//   arrivals    replayed from the trace in real time, compressed by `time_scale`; an arrival the
//               controller is too busy to take on time is delivered late and stamped when it is
//               delivered (times never go backwards); the lag is reported
//   iteration   becomes an IterationJob (its token ids and block ids) run by the NodeHost on the
//               node's executor, which reads and writes the node's KV pool at the blocks the Work
//               names; the sampled tokens travel back with the result and are appended to the
//               request's sequence on the controller's thread
//   transfer    becomes a TransferJob: the host moves the copies core::plan_transfer makes of the
//               Work's block lists (one transport call per copy)
//   role flip   completes after its modelled cost (nothing to move: a node keeps its pool)
//   timer       completes after its delay
//   faults      the scenario's faults at their times: a crash reports kNodeDown, fails the
//               node's work in flight and transfers from or to it, and poisons its pool (a later
//               read of lost KV shows as a wrong token); kNodeUp when it ends. link-down fails
//               transfers from or to the node; link-slow stretches them by 1 / factor.
//   lost nodes  a node whose host stops answering (NodeHost::Listener::on_node_lost: a silent
//               MPI rank) goes down for good: kNodeDown, its work in flight fails, no kNodeUp.
// No wait can hang: an iteration or transfer not done `work_timeout` after its submission comes
// back kTimedOut (its late result is ignored) and goes through the controller's recovery.
//
// Where nodes execute is the NodeHost's business (runtime/live/node_host.h): in this process
// (LocalNodeHost, the default) or on other MPI ranks (runtime/mpi/); everything above is the
// same code for both.
//
// Threading: the controller calls now/submit/next from one thread; the host posts results to a
// queue next() drains. The token sequences are touched by the controller's thread only.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/spec/scenario.h"
#include "core/work/backend.h"
#include "runtime/executor.h"
#include "runtime/live/node_host.h"

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
  // Time the controller's thread spent handing jobs to the node host (encoding them, and for
  // remote nodes queueing them for the control plane).
  core::Duration submit_time;
  // Iterations' dispatch overhead: submission to completion, less the host's queueing and run
  // time (the control plane's round trip for a remote node; microseconds in one process).
  core::Duration dispatch_overhead;
  int64_t dispatched = 0;           // iterations measured in dispatch_overhead
  std::vector<std::string> lost;    // nodes lost for good, with why
};

class LiveBackend final : public core::Backend, private NodeHost::Listener {
 public:
  // `requests` (sorted by arrival) and `device` must outlive the backend. Makes every node's
  // executor (its KV pool on `device`) now, in this process; a pool that does not fit is an
  // input error.
  LiveBackend(const core::Scenario& scenario, std::span<const core::Request> requests, Device& device,
              const LiveOptions& options);
  // The nodes run where the host made by `make_host` puts them.
  LiveBackend(const core::Scenario& scenario, std::span<const core::Request> requests,
              const NodeHostFactory& make_host, const LiveOptions& options);
  ~LiveBackend() override;

  core::Time now() const override { return last_; }
  void submit(const core::Work& work) override;
  std::optional<core::Completion> next() override;

  // Request r's tokens: its prompt, then every token generated so far.
  const std::vector<int32_t>& tokens(core::RequestId r) const { return tokens_[core::to_int(r)]; }
  const LiveStats& stats() const { return stats_; }
  int64_t events() const { return events_; }
  std::string device_name() const { return host_->device_name(); }

 private:
  struct Node;
  struct Done;
  struct InFlight;
  enum class Kind : uint8_t { kIteration, kTransfer, kFlip };

  core::Time clock() const;
  void on_result(JobResult result) override;
  void on_node_lost(uint32_t node, std::string why) override;
  void post_done(Done done);
  void deliver(core::Completion c);
  bool take_worker_result(core::Time limit);
  void expire_deadlines(core::Time now);
  void start_fault(size_t index, core::Time t);
  void end_fault(size_t index, core::Time t);
  void lose_node(uint32_t node, const std::string& why, core::Time t);
  void fail_in_flight(uint32_t node, bool iterations_too, core::Time t);
  void submit_iteration(const core::Iteration& it);
  void submit_transfer(const core::Transfer& t);
  core::Time next_due() const;

  const core::Scenario& scenario_;
  std::span<const core::Request> requests_;
  LiveOptions options_;
  std::chrono::steady_clock::time_point start_;
  core::Time last_;
  std::optional<std::chrono::steady_clock::time_point> returned_at_;  // for controller_busy
  size_t next_arrival_ = 0;
  std::vector<core::Request> scaled_;      // the requests with arrivals divided by time_scale
  std::vector<std::vector<int32_t>> tokens_;
  std::vector<Node> nodes_;  // the controller side of each node (down, link faults)
  std::unique_ptr<NodeHost> host_;

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
