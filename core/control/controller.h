// Controller: the control loop, identical for the simulated and the live backend.
//
// It owns the cluster state (per node: role, one KV block allocator shared by a prefill queue
// and a decode batch, load figures) and reacts to what the Backend reports:
//   arrival         -> GlobalScheduler picks (prefill node, decode node) from a LoadSnapshot;
//                      the request queues on its prefill node
//   node idle       -> the node's BatchScheduler plans the next iteration; it is submitted
//   prefill done    -> blocks are allocated on the decode node (or the request waits for them,
//                      never dropped), the transfer is planned (core/kv/transfer_plan.h) and submitted
//   transfer done   -> the prefill node's blocks are freed; the first token is delivered; the
//                      request joins the decode node's batch
//   decode step     -> tokens delivered; finished requests free their blocks
//   timer           -> RoleController; flips are submitted when the node is between iterations
// Colocated nodes (role kColocated) prefill and decode on one pool: no transfer.
//
// Guarantees: every request that arrives ends completed or failed with a reason (never
// dropped); when run() returns no KV block is held on any node. Failed work is retried up to
// the scenario's max_retries per request, then the request fails with a reason. A node that
// goes down (kNodeDown) loses its KV; the requests it held are recovered through the scenario's
// RecoveryPolicy (core/sched/recovery.h, core/control/controller_recovery.cc) or failed with a reason.
//
// Lifecycle: construct with a validated Scenario and a Backend, call run() once, then read the
// results. Single-threaded; several controllers may run in parallel threads (no globals).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/base/streaming_histogram.h"
#include "core/sched/batch_scheduler.h"
#include "core/sched/global_scheduler.h"
#include "core/sched/load_snapshot.h"
#include "core/sched/recovery.h"
#include "core/sched/role_controller.h"
#include "core/spec/scenario.h"
#include "core/work/backend.h"
#include "core/work/node_state.h"
#include "core/work/request_record.h"

namespace flowkv::core {

// Sees every submission and completion (timelines, tests). Optional; must not call back into
// the controller.
class ControllerObserver {
 public:
  virtual ~ControllerObserver() = default;
  virtual void on_submit(const Work& work, Time now) {}
  virtual void on_completion(const Completion& completion) {}
  // A token of `request` reached its client (the first one with the KV, when disaggregated).
  virtual void on_token(RequestId request, Time now) {}
};

struct ControllerOptions {
  int64_t expected_requests = 0;  // reserve records for this many requests
  // Called every 2^progress_shift handled events and once at the end with (arrivals, finished
  // requests). The simulator handles millions of events a second; a live run a few hundred.
  std::function<void(int64_t arrived, int64_t finished)> progress;
  int32_t progress_shift = 16;
  ControllerObserver* observer = nullptr;
  // Check allocator and queue invariants after every event (slow; for tests).
  bool check_invariants = false;
  // Early stop (the planner's, docs/planning.md): when >= 0, the run stops as soon as more
  // than this many requests are certain to miss the scenario's SLO (SloTally::known_misses),
  // i.e. once an attainment target that allows this many misses is out of reach. The records
  // then describe the run up to the stop (unfinished requests stay kPending) and run() skips
  // its end-of-run checks. Needs arrivals in id order (every trace is). Negative: never stop.
  int64_t stop_after_slo_misses = -1;
};

// What a run knows, as it goes, of the requests that miss the scenario's SLO, with the
// definitions of core/results/metrics.h (a request is good when it completes with TTFT <=
// slo.ttft_s and, with more than one output token, TPOT <= slo.tpot_s). Kept only when
// ControllerOptions::stop_after_slo_misses is set; at the end of a full run known_misses() is
// exactly the number of requests that are not good.
struct SloTally {
  int64_t good_ttft = 0;                  // first token within slo.ttft_s
  int64_t missed_ttft = 0;                // first token later than slo.ttft_s
  int64_t missed_tpot = 0;                // first token in time, completed with TPOT over slo.tpot_s
  int64_t failed_before_first_token = 0;  // failed (any reason) without a first token
  int64_t failed_after_good_ttft = 0;     // failed after a first token in time
  int64_t overdue = 0;                    // arrived more than slo.ttft_s ago (at the last check)

  // A lower bound of the requests that will not be good, whatever happens next: those that
  // arrived more than slo.ttft_s ago without a first token in time number at least
  // overdue - good_ttft, and at least missed_ttft + failed_before_first_token; the first-token-
  // in-time requests that went bad later are disjoint from them.
  int64_t known_misses() const {
    return std::max(overdue - good_ttft, missed_ttft + failed_before_first_token) + missed_tpot +
           failed_after_good_ttft;
  }
  // Of known_misses(), those that are late first tokens (known or certain).
  int64_t known_ttft_misses() const {
    return std::max(overdue - good_ttft, missed_ttft + failed_before_first_token) - failed_before_first_token;
  }
};

struct ControllerTotals {
  int64_t arrived = 0;
  int64_t completed = 0;
  int64_t failed = 0;
  int64_t preemptions = 0;
  int64_t role_flips = 0;
  int64_t events = 0;           // completions and arrivals handled
  int64_t iterations = 0;
  int64_t transfers = 0;
  int64_t transfer_calls = 0;
  int64_t transfer_bytes = 0;
  Time end;                     // time of the last event
  SloTally slo;                 // with ControllerOptions::stop_after_slo_misses only
  bool stopped_early = false;   // stop_after_slo_misses was exceeded at `end`
};

class Controller final : private BatchOps {
 public:
  Controller(const Scenario& scenario, Backend& backend, ControllerOptions options = {});
  ~Controller() override;
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Drives the backend until it has nothing left; then fails (reason kStalled) anything still
  // unfinished, which would be a bug, and checks that no block is held anywhere.
  void run();

  // Records indexed by RequestId (trace ids are 0..n-1).
  const std::vector<RequestRecord>& records() const { return records_; }
  // Moves the records out (a 1M-request run need not hold two copies).
  std::vector<RequestRecord> take_records() { return std::move(records_); }
  const StreamingHistogram& itl() const { return itl_; }
  const std::vector<NodeState>& nodes() const { return nodes_; }
  const ControllerTotals& totals() const { return totals_; }
  const Scenario& scenario() const { return scenario_; }

 private:
  // BatchOps.
  bool start_prefill(NodeState& node, Slot slot) override;
  bool grow(NodeState& node, Slot slot) override;
  void preempt(NodeState& node, Slot slot) override;

  void handle(const Completion& c);
  void on_arrival(const Request& request);
  void on_iteration_done(NodeState& node, WorkState state);
  void step_decodes(NodeState& node);
  void on_transfer_done(Slot slot, WorkState state);
  void on_flip_done(NodeState& node, WorkState state);
  void on_timer();
  // Failures (core/control/controller_recovery.cc; the policy is core/sched/recovery.h).
  void on_node_down(NodeState& node);
  void on_node_up(NodeState& node);
  void on_transfer_failed(Slot slot);
  void recover(Slot slot, RecoverySituation situation, NodeState* failed);
  void requeue(Slot slot, NodeId prefill, NodeId decode);
  void set_recovery_eligibility(const LiveRequest& r, bool redirect);

  void prefill_finished(NodeState& node, Slot slot);
  void try_pending_transfers(NodeState& node);
  void submit_transfer(Slot slot);
  void start_node(NodeState& node);
  void deliver_token(Slot slot);
  void flush_itl();
  void close_record(Slot slot);
  void finish(Slot slot);
  void fail(Slot slot, FailureReason reason);
  void fail_unrouted(const Request& request, FailureReason reason);
  // SloTally bookkeeping (core/control/controller_slo.cc), only when stopping is on.
  void tally_first_token(const RequestRecord& rec);
  void tally_end(const RequestRecord& rec);
  bool slo_out_of_reach();
  // Frees `blocks`, a list of request r on `node` (the part a prefix cache owns stays cached).
  void release_blocks(NodeState& node, LiveRequest& r, BlockList& blocks);
  bool allocate_blocks(NodeState& node, int64_t n, BlockList& out);
  void note_usage(NodeState& node);
  void mark(NodeState& node);
  void process_marked();
  void refresh_snapshot();
  Slot new_slot();
  void free_slot(Slot slot);
  RequestRecord& record(Slot slot) { return records_[static_cast<size_t>(to_int(pool_[slot].id))]; }
  void submit(const Work& work);
  void check_invariants() const;
  WorkId make_work_id(uint64_t kind, uint64_t index);

  const Scenario& scenario_;
  Backend& backend_;
  ControllerOptions options_;
  std::unique_ptr<GlobalScheduler> global_;
  std::unique_ptr<BatchScheduler> batch_;
  std::unique_ptr<RoleController> roles_;
  std::unique_ptr<RecoveryPolicy> recovery_;

  std::vector<NodeState> nodes_;
  std::vector<LiveRequest> live_;  // the slot pool (BatchOps::pool_ points at its data)
  std::vector<Slot> free_slots_;
  BlockList release_scratch_;      // release_blocks' own tail of a list whose head is cached
  std::vector<RequestRecord> records_;
  StreamingHistogram itl_;
  Duration itl_gap_;               // the run of equal inter-token gaps not yet in itl_
  int64_t itl_run_ = 0;
  Time now_;                       // time of the event being handled
  ControllerTotals totals_;
  int64_t in_system_ = 0;          // arrived, not yet completed or failed

  std::vector<NodeLoad> loads_;
  LoadSnapshot snapshot_;
  std::vector<RoleChange> changes_;
  std::vector<uint32_t> marked_;   // nodes whose queues changed since the last start_node pass
  std::vector<uint8_t> is_marked_;
  uint64_t work_seq_ = 0;
  bool placement_ = true;          // Backend::needs_placement()
  WorkId timer_work_{};
  bool timer_armed_ = false;
  bool stop_on_slo_ = false;       // options_.stop_after_slo_misses >= 0
  size_t overdue_cursor_ = 0;      // records before it arrived more than slo.ttft_s ago
};

}  // namespace flowkv::core
