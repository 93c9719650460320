// SimBackend: the Backend of the simulator, in virtual time.
//
// Arrivals stream from the trace (already sorted); work completes after modelled durations:
//   iteration  ComputeModel of its node (sim/cost_model.h), or the CalibratedModel fitted to the
//              scenario's profile (sim/calibrated_model.h) when cost_model.kind is calibrated
//   transfer   calls * per_call_latency (+ gather/scatter time for per-layer transfers), then
//              the bytes through the shared LinkModel (sim/link_model.h); calibrated: the fit's
//              time, each node sending its transfers one after another as the live backend's
//              one sender worker per node does (no LinkModel; link-slow faults do not apply)
//   role flip  its cost;  timer  its delay
// At equal times completions come before arrivals, and events in the order they were scheduled:
// a run is a pure function of (scenario, trace). next() returns nullopt when no arrival is left
// and no iteration, transfer or flip is in flight (pending timers and faults do not count).
// Faults (scenario.faults, core/spec/fault_spec.h) are events too: a crash reports kNodeDown, then
// fails the node's iteration and flip and every transfer from or to it (in submission order);
// kNodeUp when it ends. A link-down fails the transfers in flight from or to the node and those
// that reach the wire while it lasts; a link-slow scales the node's ports (sim/link_model.h).
// The requests must outlive the backend. Not thread-safe; one backend per run.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/spec/scenario.h"
#include "core/work/backend.h"
#include "sim/calibrated_model.h"
#include "sim/cost_model.h"
#include "sim/engine.h"
#include "sim/link_model.h"

namespace flowkv::sim {

class SimBackend final : public core::Backend {
 public:
  // `calibrated`: the scenario's fitted model when its cost model is calibrated (nullptr: fitted
  // here from the scenario's profile; callers that run many simulations may fit once and share).
  SimBackend(const core::Scenario& scenario, std::span<const core::Request> requests,
             std::shared_ptr<const CalibratedModel> calibrated = nullptr);

  core::Time now() const override { return engine_.now(); }
  void submit(const core::Work& work) override;
  std::optional<core::Completion> next() override;
  bool needs_placement() const override { return false; }

  // Events popped from the queue plus arrivals delivered.
  int64_t events() const { return static_cast<int64_t>(engine_.events_popped()) + arrivals_done_; }
  int64_t arrivals_done() const { return arrivals_done_; }

 private:
  enum class Kind : uint8_t { kWorkDone, kTransferLatencyDone, kLinkCheck, kTimer, kFaultStart, kFaultEnd };
  struct Payload {
    Kind kind = Kind::kWorkDone;
    uint32_t node = 0;   // kWorkDone: the node it runs on; kFault*: index into scenario.faults
    uint64_t value = 0;  // WorkId, transfer index or link generation
  };
  struct PendingTransfer {
    core::WorkId id{};
    uint32_t src = 0, dst = 0;
    int64_t bytes = 0;
    bool active = false;  // in its per-call latency phase and not failed
  };
  void schedule_link_check();
  static core::Completion work_done(core::WorkId id, core::Time t, core::WorkState state);
  void complete(core::WorkId id, core::Time t);
  void fail(core::WorkId id, core::Time t);
  void on_fault(size_t index, bool start, core::Time t);
  void fail_node_work(uint32_t node, bool iterations_too, core::Time t);
  bool link_usable(uint32_t node) const { return down_[node] == 0 && link_down_[node] == 0; }

  const core::Scenario& scenario_;
  std::span<const core::Request> requests_;
  size_t next_arrival_ = 0;
  int64_t arrivals_done_ = 0;
  Engine<Payload> engine_;
  std::vector<ComputeModel> compute_;
  std::shared_ptr<const CalibratedModel> calibrated_;  // null: the roofline prices iterations
  LinkModel links_;
  std::vector<PendingTransfer> transfers_;
  std::vector<uint32_t> free_transfers_;
  // Completions not yet returned, FIFO from ready_head_. A vector rather than a deque: it is
  // drained before every event, so it stays tiny and never allocates in steady state.
  std::vector<core::Completion> ready_;
  size_t ready_head_ = 0;
  std::vector<uint64_t> finished_;
  int64_t outstanding_ = 0;  // iterations, transfers and flips in flight
  // Faults: per node, how many crash / link-down faults are active, the active link-slow
  // factors, and the iterations and flips in flight (a crash fails them; their scheduled
  // completion is then ignored).
  std::vector<int32_t> down_;
  std::vector<int32_t> link_down_;
  std::vector<std::vector<double>> slow_;
  std::vector<std::vector<uint64_t>> on_node_;
  std::vector<core::Time> sender_free_;  // calibrated: when each node's sender is next free
};

}  // namespace flowkv::sim
