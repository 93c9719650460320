// Timeline: a ControllerObserver that writes what the cluster did as a Chrome trace event file
// (timeline.json; open it in ui.perfetto.dev or chrome://tracing). docs/timeline.md describes
// every track. In short, one process per node ("P0 (H100-SXM, prefill)") with
//   threads   "prefill" and "decode": one slice per iteration, batch composition in args;
//             "KV send N" / "KV recv N": one slice per KV transfer on both ends, joined by a
//             flow arrow (lanes, because transfers overlap); "control": role flips;
//             "faults": the periods a node is down; "link faults N": the scenario's link faults;
//   instants  role flips and faults (node down / up, failed iterations, transfers and flips);
//   counters  KV usage %, queued prefill tokens, running requests (prefill / decode).
//
// Events are streamed to the output as the run goes (TraceEventWriter): memory holds only the
// work in flight and a few numbers per node, however long the replay. A window keeps the
// events that touch [start, end) of virtual time and drops the rest while recording; counters
// restart at the window's start with the value they had then.
//
// Counters come from the controller's node states, which the timeline reads (never writes)
// between two events: call watch() with Controller::nodes() before Controller::run(). Without
// watch() the file has no counter tracks. Deterministic: the same run gives the same bytes.
//
// Lifecycle: construct (writes the per-node metadata), pass as ControllerOptions::observer,
// watch(), run the controller, then finish() once while the controller still exists.
// Not thread-safe: one timeline per controller.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/control/controller.h"
#include "core/results/trace_event_writer.h"
#include "core/spec/fault_spec.h"
#include "core/spec/scenario.h"
#include "core/work/node_state.h"

namespace flowkv::core {

// [start, end) in virtual time.
struct TimelineWindow {
  Time start = Time::zero();
  Time end = Time::max();
};

// Parses "START:END" in seconds ("10:20", "10.5:", ":60"); an empty side is open. Throws an
// input error naming `flag` unless 0 <= START < END.
TimelineWindow parse_timeline_window(std::string_view text, std::string_view flag = "--timeline-window");

struct TimelineStats {
  int64_t events = 0;   // events written, metadata included
  int64_t dropped = 0;  // events left out because they fall outside the window
  int64_t bytes = 0;    // size of the file
};

class Timeline final : public ControllerObserver {
 public:
  Timeline(std::ostream& out, const Scenario& scenario, std::optional<TimelineWindow> window = std::nullopt);
  ~Timeline() override;
  Timeline(const Timeline&) = delete;
  Timeline& operator=(const Timeline&) = delete;

  // Node states to sample counters from; indexed like scenario.nodes; must outlive finish().
  void watch(const std::vector<NodeState>& nodes);

  void on_submit(const Work& work, Time now) override;
  void on_completion(const Completion& completion) override;

  // Takes the last counter sample, closes the file and returns its figures. Work still in
  // flight (none after Controller::run()) is not drawn.
  TimelineStats finish();

 private:
  struct Pending;
  struct Lanes {
    std::vector<uint8_t> busy;   // lane i in use
    std::vector<uint8_t> named;  // lane i's thread_name written
  };
  struct Counters {
    int64_t kv_basis_points = -1;  // used blocks / total, in 1/100 %
    int64_t queued_prefill_tokens = -1;
    int64_t running_prefill = -1;
    int64_t running_decode = -1;
  };

  bool in_window(Time t) const { return t >= window_.start && t < window_.end; }
  bool overlaps_window(Time start, Time end) const { return start < window_.end && end >= window_.start; }
  uint32_t acquire_lane(Lanes& lanes);
  void name_lane(uint32_t node, bool send, uint32_t lane);
  void sample(Time t);
  Counters read_counters(const NodeState& n) const;
  void emit_counters(uint32_t node, Time t, const Counters& now, Counters& emitted);
  void end_iteration(const Pending& p, Time end, WorkState state);
  void end_transfer(const Pending& p, Time end, WorkState state);
  void end_flip(const Pending& p, Time end, WorkState state);
  void fault(uint32_t node, Time t, std::string_view what, const TraceArgs& args);
  void node_down(uint32_t node, Time t);
  void node_up(uint32_t node, Time t);
  void down_slice(uint32_t node, Time start, Time end, bool until_end);
  void link_faults(Time run_end);

  TraceEventWriter writer_;
  TimelineWindow window_;
  bool windowed_ = false;
  std::string scenario_name_;
  std::vector<std::string> node_names_;
  std::vector<NodeRole> roles_;  // current role of each node, as the timeline has seen it
  std::vector<Lanes> send_lanes_, recv_lanes_;
  std::unordered_map<uint64_t, Pending> pending_;  // by WorkId
  std::vector<std::optional<Time>> down_since_;  // nodes that are down, since when
  std::vector<FaultSpec> faults_;                 // the scenario's, drawn at finish()
  uint64_t next_flow_id_ = 1;
  TraceArgs args_;  // reused

  const std::vector<NodeState>* nodes_ = nullptr;
  std::vector<Counters> last_seen_;  // last sampled values
  std::vector<Counters> emitted_;    // last written values
  bool sampled_ = false;             // a sample has been taken
  bool primed_ = false;              // counters written at the window's start
  std::optional<Time> last_event_;   // time of the last completion
  int64_t dropped_ = 0;
  bool finished_ = false;
};

}  // namespace flowkv::core
