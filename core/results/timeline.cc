#include "core/results/timeline.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <string>
#include <variant>

#include "core/base/error.h"

namespace flowkv::core {
namespace {

// Thread ids: (node + 1) * kTidStride + one of these. Globally unique tids keep both viewers
// from merging threads of different nodes; pid 0 is avoided because some tools treat it as idle.
constexpr uint32_t kTidStride = 10000;
constexpr uint32_t kPrefillTid = 1;
constexpr uint32_t kDecodeTid = 2;
constexpr uint32_t kControlTid = 3;
constexpr uint32_t kFaultTid = 4;
constexpr uint32_t kLinkFaultLane0 = 20;  // up to kSendLane0
constexpr uint32_t kSendLane0 = 100;
constexpr uint32_t kRecvLane0 = 5000;
constexpr uint32_t kMaxLanes = 4900;  // more concurrent transfers than this share the last lane
constexpr size_t kMaxListedRequests = 8;

constexpr std::string_view kTransferCat = "transfer";
constexpr std::string_view kFlowName = "kv transfer";

uint32_t pid_of(uint32_t node) { return node + 1; }
uint32_t tid_of(uint32_t node, uint32_t local) { return (node + 1) * kTidStride + local; }

double parse_seconds(std::string_view s, std::string_view flag, std::string_view text) {
  double v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(v) || v < 0 || v > 1e9) {
    throw_input_error(std::string(flag) + " '" + std::string(text) + "': '" + std::string(s) +
                      "' is not a number of seconds >= 0");
  }
  return v;
}

}  // namespace

TimelineWindow parse_timeline_window(std::string_view text, std::string_view flag) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos || text.find(':', colon + 1) != std::string_view::npos) {
    throw_input_error(std::string(flag) + " '" + std::string(text) +
                      "': expected START:END in seconds (e.g. 10:20, 30: or :60)");
  }
  TimelineWindow w;
  const std::string_view a = text.substr(0, colon), b = text.substr(colon + 1);
  if (!a.empty()) w.start = Time::zero() + Duration::from_seconds(parse_seconds(a, flag, text));
  if (!b.empty()) w.end = Time::zero() + Duration::from_seconds(parse_seconds(b, flag, text));
  if (!(w.start < w.end)) {
    throw_input_error(std::string(flag) + " '" + std::string(text) + "': START must be less than END");
  }
  return w;
}

struct Timeline::Pending {
  enum class Kind : uint8_t { kIteration, kTransfer, kFlip } kind = Kind::kIteration;
  Time start;
  uint32_t node = 0;  // iteration / flip node, transfer source
  uint32_t dst = 0;
  uint32_t send_lane = 0, recv_lane = 0;
  // Iteration: prefill requests, prefill tokens, decode requests, decode context tokens.
  // Transfer: request id, bytes, calls, local copies.
  int64_t a = 0, b = 0, c = 0, d = 0;
  NodeRole role = NodeRole::kPrefill;  // flip: the new role
  bool routable = true;
  uint8_t listed = 0;  // iteration: how many of `requests` are set
  std::array<uint64_t, kMaxListedRequests> requests{};
};

Timeline::Timeline(std::ostream& out, const Scenario& scenario, std::optional<TimelineWindow> window)
    : writer_(out), scenario_name_(scenario.name), faults_(scenario.faults) {
  if (window) {
    window_ = *window;
    windowed_ = true;
  }
  const size_t n = scenario.nodes.size();
  roles_.resize(n);
  down_since_.resize(n);
  send_lanes_.resize(n);
  recv_lanes_.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    const NodeSpec& s = scenario.nodes[i];
    node_names_.push_back(s.name);
    roles_[i] = s.role;
    std::string label = s.name + " (" + s.gpu.name;
    if (s.gpus() > 1) label += " x" + std::to_string(s.gpus());
    label += std::string(", ") + to_string(s.role) + (s.standby ? ", standby)" : ")");
    writer_.process_name(pid_of(i), label);
    writer_.process_sort_index(pid_of(i), i);
    const std::pair<uint32_t, const char*> threads[] = {
        {kPrefillTid, "prefill"}, {kDecodeTid, "decode"}, {kControlTid, "control"}, {kFaultTid, "faults"}};
    for (const auto& [local, name] : threads) {
      writer_.thread_name(pid_of(i), tid_of(i, local), name);
      writer_.thread_sort_index(pid_of(i), tid_of(i, local), local);
    }
  }
}

Timeline::~Timeline() = default;

void Timeline::watch(const std::vector<NodeState>& nodes) {
  FLOWKV_CHECK(nodes.size() == node_names_.size(), "timeline watches a different number of nodes");
  nodes_ = &nodes;
  last_seen_.assign(nodes.size(), Counters{});
  emitted_.assign(nodes.size(), Counters{});
}

uint32_t Timeline::acquire_lane(Lanes& lanes) {
  uint32_t i = 0;
  while (i < lanes.busy.size() && lanes.busy[i]) ++i;
  if (i == kMaxLanes) return kMaxLanes - 1;  // overlapping slices on one lane; never expected
  if (i == lanes.busy.size()) {
    lanes.busy.push_back(0);
    lanes.named.push_back(0);
  }
  lanes.busy[i] = 1;
  return i;
}

void Timeline::name_lane(uint32_t node, bool send, uint32_t lane) {
  Lanes& lanes = send ? send_lanes_[node] : recv_lanes_[node];
  if (lanes.named[lane]) return;
  lanes.named[lane] = 1;
  const uint32_t local = (send ? kSendLane0 : kRecvLane0) + lane;
  writer_.thread_name(pid_of(node), tid_of(node, local), (send ? "KV send " : "KV recv ") + std::to_string(lane));
  writer_.thread_sort_index(pid_of(node), tid_of(node, local), local);
}

void Timeline::on_submit(const Work& work, Time now) {
  const uint32_t num_nodes = static_cast<uint32_t>(node_names_.size());
  // get_if rather than visit: a new kind of Work is ignored here until the timeline learns it.
  if (const auto* it = std::get_if<Iteration>(&work)) {
    FLOWKV_CHECK(to_int(it->node) < num_nodes, "iteration on an unknown node");
    Pending p;
    p.kind = Pending::Kind::kIteration;
    p.start = now;
    p.node = to_int(it->node);
    p.a = static_cast<int64_t>(it->prefill.size());
    p.b = it->num_prefill_tokens;
    p.c = static_cast<int64_t>(it->decode.size());
    p.d = it->decode_context_tokens;
    for (const PrefillItem& item : it->prefill) {
      if (p.listed == kMaxListedRequests) break;
      p.requests[p.listed++] = to_int(item.request);
    }
    pending_[to_int(it->id)] = p;
  } else if (const auto* t = std::get_if<Transfer>(&work)) {
    FLOWKV_CHECK(to_int(t->src) < num_nodes && to_int(t->dst) < num_nodes, "transfer between unknown nodes");
    Pending p;
    p.kind = Pending::Kind::kTransfer;
    p.start = now;
    p.node = to_int(t->src);
    p.dst = to_int(t->dst);
    p.send_lane = acquire_lane(send_lanes_[p.node]);
    p.recv_lane = acquire_lane(recv_lanes_[p.dst]);
    p.a = static_cast<int64_t>(to_int(t->request));
    p.b = t->bytes;
    p.c = t->calls;
    p.d = t->local_copies;
    pending_[to_int(t->id)] = p;
  } else if (const auto* f = std::get_if<RoleFlip>(&work)) {
    FLOWKV_CHECK(to_int(f->node) < num_nodes, "role flip of an unknown node");
    Pending p;
    p.kind = Pending::Kind::kFlip;
    p.start = now;
    p.node = to_int(f->node);
    p.role = f->new_role;
    p.routable = f->routable;
    pending_[to_int(f->id)] = p;
  }
}

void Timeline::on_completion(const Completion& c) {
  // The node states now show the effect of everything up to the previous event.
  if (nodes_ != nullptr) sample(last_event_.value_or(c.time));
  last_event_ = c.time;
  if (c.kind == Completion::Kind::kNodeDown || c.kind == Completion::Kind::kNodeUp) {
    FLOWKV_CHECK(to_int(c.node) < node_names_.size(), "failure report for an unknown node");
    if (c.kind == Completion::Kind::kNodeDown) {
      node_down(to_int(c.node), c.time);
    } else {
      node_up(to_int(c.node), c.time);
    }
    return;
  }
  if (c.kind != Completion::Kind::kWorkDone) return;
  const auto found = pending_.find(to_int(c.work));
  if (found == pending_.end()) return;
  const Pending p = found->second;
  pending_.erase(found);
  switch (p.kind) {
    case Pending::Kind::kIteration: end_iteration(p, c.time, c.state); break;
    case Pending::Kind::kTransfer: end_transfer(p, c.time, c.state); break;
    case Pending::Kind::kFlip: end_flip(p, c.time, c.state); break;
  }
}

void Timeline::end_iteration(const Pending& p, Time end, WorkState state) {
  const bool ok = state == WorkState::kCompleted;
  const bool keep = overlaps_window(p.start, end);
  if (p.a > 0) {
    if (keep) {
      args_.clear();
      args_.add("requests", p.a).add("tokens", p.b);
      std::string ids;
      for (uint8_t i = 0; i < p.listed; ++i) {
        if (i > 0) ids += ' ';
        ids += std::to_string(p.requests[i]);
      }
      if (p.a > p.listed) ids += " +" + std::to_string(p.a - p.listed) + " more";
      args_.add("request_ids", ids);
      if (p.c > 0) args_.add("decode_requests", p.c);
      if (!ok) args_.add("state", to_string(state));
      writer_.complete(pid_of(p.node), tid_of(p.node, kPrefillTid), p.start, end - p.start, "iteration",
                       ok ? "prefill" : "prefill (failed)", args_);
    } else {
      ++dropped_;
    }
  }
  if (p.c > 0) {
    if (keep) {
      args_.clear();
      args_.add("requests", p.c).add("tokens", p.c).add("context_tokens", p.d);
      if (p.a > 0) args_.add("prefill_requests", p.a).add("prefill_tokens", p.b);
      if (!ok) args_.add("state", to_string(state));
      writer_.complete(pid_of(p.node), tid_of(p.node, kDecodeTid), p.start, end - p.start, "iteration",
                       ok ? "decode" : "decode (failed)", args_);
    } else {
      ++dropped_;
    }
  }
  if (!ok) {
    args_.clear();
    args_.add("prefill_requests", p.a).add("decode_requests", p.c);
    args_.add("state", to_string(state));
    fault(p.node, end, "iteration failed", args_);
  }
}

void Timeline::end_transfer(const Pending& p, Time end, WorkState state) {
  send_lanes_[p.node].busy[p.send_lane] = 0;
  recv_lanes_[p.dst].busy[p.recv_lane] = 0;
  const bool ok = state == WorkState::kCompleted;
  if (overlaps_window(p.start, end)) {
    const uint32_t send_tid = tid_of(p.node, kSendLane0 + p.send_lane);
    const uint32_t recv_tid = tid_of(p.dst, kRecvLane0 + p.recv_lane);
    name_lane(p.node, true, p.send_lane);
    name_lane(p.dst, false, p.recv_lane);
    const Duration dur = end - p.start;
    // Each flow event has the timestamp, category, pid and tid of the slice it belongs to:
    // DevTools binds flows only to such a slice; Perfetto and chrome://tracing bind them to the
    // slice enclosing their timestamp, and Perfetto orders a slice before other events with the
    // same timestamp, so all three draw the arrow between the same two slices.
    const uint64_t flow = next_flow_id_++;
    args_.clear();
    args_.add("request", p.a).add("bytes", p.b).add("calls", p.c);
    if (p.d > 0) args_.add("local_copies", p.d);
    args_.add("to", node_names_[p.dst]);
    if (!ok) args_.add("state", to_string(state));
    std::string name = std::string(ok ? "KV" : "KV (failed)") + " -> " + node_names_[p.dst];
    writer_.complete(pid_of(p.node), send_tid, p.start, dur, kTransferCat, name, args_);
    writer_.flow_start(pid_of(p.node), send_tid, p.start, kTransferCat, kFlowName, flow);

    args_.clear();
    args_.add("request", p.a).add("bytes", p.b).add("calls", p.c);
    if (p.d > 0) args_.add("local_copies", p.d);
    args_.add("from", node_names_[p.node]);
    if (!ok) args_.add("state", to_string(state));
    name = std::string(ok ? "KV" : "KV (failed)") + " <- " + node_names_[p.node];
    writer_.complete(pid_of(p.dst), recv_tid, p.start, dur, kTransferCat, name, args_);
    writer_.flow_finish(pid_of(p.dst), recv_tid, p.start, kTransferCat, kFlowName, flow);
  } else {
    dropped_ += 4;
  }
  if (!ok) {
    args_.clear();
    args_.add("request", p.a).add("from", node_names_[p.node]).add("to", node_names_[p.dst]);
    args_.add("state", to_string(state));
    fault(p.node, end, "transfer failed", args_);
    fault(p.dst, end, "transfer failed", args_);
  }
}

void Timeline::end_flip(const Pending& p, Time end, WorkState state) {
  const bool ok = state == WorkState::kCompleted;
  const NodeRole from = roles_[p.node];
  if (ok) roles_[p.node] = p.role;
  const std::string change = std::string(to_string(from)) + " -> " + to_string(p.role);
  if (overlaps_window(p.start, end)) {
    args_.clear();
    args_.add("from", to_string(from)).add("to", to_string(p.role)).add_bool("routable", p.routable);
    if (!ok) args_.add("state", to_string(state));
    writer_.complete(pid_of(p.node), tid_of(p.node, kControlTid), p.start, end - p.start, "role",
                     (ok ? "role flip " : "role flip (failed) ") + change, args_);
  } else {
    ++dropped_;
  }
  if (ok) {
    if (in_window(end)) {
      args_.clear();
      args_.add("from", to_string(from)).add("to", to_string(p.role)).add_bool("routable", p.routable);
      writer_.instant(pid_of(p.node), tid_of(p.node, kControlTid), end, TraceEventWriter::Scope::kProcess, "role",
                      "role " + change, args_);
    } else {
      ++dropped_;
    }
  } else {
    args_.clear();
    args_.add("to", to_string(p.role));
    args_.add("state", to_string(state));
    fault(p.node, end, "role flip failed", args_);
  }
}

void Timeline::fault(uint32_t node, Time t, std::string_view what, const TraceArgs& args) {
  if (!in_window(t)) {
    ++dropped_;
    return;
  }
  writer_.instant(pid_of(node), tid_of(node, kFaultTid), t, TraceEventWriter::Scope::kProcess, "fault", what, args);
}

void Timeline::node_down(uint32_t node, Time t) {
  if (!down_since_[node]) down_since_[node] = t;
  args_.clear();
  fault(node, t, "node down", args_);
}

void Timeline::node_up(uint32_t node, Time t) {
  if (down_since_[node]) {
    down_slice(node, *down_since_[node], t, false);
    down_since_[node].reset();
  }
  if (!in_window(t)) {
    ++dropped_;
    return;
  }
  args_.clear();
  writer_.instant(pid_of(node), tid_of(node, kFaultTid), t, TraceEventWriter::Scope::kProcess, "fault", "node up",
                  args_);
}

void Timeline::down_slice(uint32_t node, Time start, Time end, bool until_end) {
  if (!overlaps_window(start, end)) {
    ++dropped_;
    return;
  }
  args_.clear();
  if (until_end) args_.add_bool("until_end_of_run", true);
  writer_.complete(pid_of(node), tid_of(node, kFaultTid), start, end - start, "fault", "down", args_);
}

void Timeline::link_faults(Time run_end) {
  // Link faults never reach the controller as events (it only sees slower or failed
  // transfers), so they are drawn from the scenario. Overlapping ones get separate lanes.
  std::vector<std::vector<Time>> lane_ends(node_names_.size());
  for (const FaultSpec& f : faults_) {
    if (f.kind == FaultKind::kCrash || f.at > run_end) continue;
    const uint32_t node = to_int(f.node);
    if (node >= node_names_.size()) continue;
    const Time end = f.duration ? f.at + *f.duration : run_end;
    std::vector<Time>& ends = lane_ends[node];
    size_t lane = 0;
    while (lane < ends.size() && ends[lane] > f.at) ++lane;
    if (lane + kLinkFaultLane0 >= kSendLane0) lane = ends.size() - 1;
    if (lane == ends.size()) ends.push_back(end);
    ends[lane] = std::max(ends[lane], end);
    if (!overlaps_window(f.at, end)) {
      ++dropped_;
      continue;
    }
    const uint32_t tid = tid_of(node, kLinkFaultLane0 + static_cast<uint32_t>(lane));
    writer_.thread_name(pid_of(node), tid, "link faults " + std::to_string(lane));
    writer_.thread_sort_index(pid_of(node), tid, kLinkFaultLane0 + static_cast<int64_t>(lane));
    args_.clear();
    args_.add("kind", to_string(f.kind));
    if (f.kind == FaultKind::kLinkSlow) {
      args_.add_fixed("bandwidth_factor", static_cast<int64_t>(std::llround(f.factor * 1e6)), 6);
    }
    if (!f.duration) args_.add_bool("until_end_of_run", true);
    writer_.complete(pid_of(node), tid, f.at, end - f.at, "fault", to_string(f.kind), args_);
  }
}

Timeline::Counters Timeline::read_counters(const NodeState& n) const {
  Counters c;
  const int64_t total = n.kv ? n.kv->num_blocks() : 0;
  c.kv_basis_points = total > 0 ? n.kv->num_used() * 10000 / total : 0;
  c.queued_prefill_tokens = n.queued_prefill_tokens;
  c.running_prefill = static_cast<int64_t>(n.prefilling.size());
  c.running_decode = static_cast<int64_t>(n.decoding.size());
  return c;
}

void Timeline::emit_counters(uint32_t node, Time t, const Counters& now, Counters& emitted) {
  const uint32_t pid = pid_of(node);
  if (now.kv_basis_points != emitted.kv_basis_points) {
    args_.clear();
    args_.add_fixed("%", now.kv_basis_points, 2);
    writer_.counter(pid, t, "KV usage", args_);
  }
  if (now.queued_prefill_tokens != emitted.queued_prefill_tokens) {
    args_.clear();
    args_.add("tokens", now.queued_prefill_tokens);
    writer_.counter(pid, t, "queued prefill", args_);
  }
  if (now.running_prefill != emitted.running_prefill || now.running_decode != emitted.running_decode) {
    args_.clear();
    args_.add("prefill", now.running_prefill).add("decode", now.running_decode);
    writer_.counter(pid, t, "running requests", args_);
  }
  emitted = now;
}

void Timeline::sample(Time t) {
  const std::vector<NodeState>& nodes = *nodes_;
  if (!primed_ && t >= window_.start) {
    primed_ = true;
    // The run was already going when the window opened: start every counter track with the
    // value it had at that moment rather than leave it blank until its next change.
    if (sampled_ && window_.start < t && window_.start < window_.end) {
      for (uint32_t i = 0; i < nodes.size(); ++i) emit_counters(i, window_.start, last_seen_[i], emitted_[i]);
    }
  }
  const bool keep = in_window(t);
  for (uint32_t i = 0; i < nodes.size(); ++i) {
    const Counters now = read_counters(nodes[i]);
    if (keep) {
      emit_counters(i, t, now, emitted_[i]);
    } else {
      const Counters& last = last_seen_[i];
      dropped_ += (now.kv_basis_points != last.kv_basis_points) +
                  (now.queued_prefill_tokens != last.queued_prefill_tokens) +
                  (now.running_prefill != last.running_prefill || now.running_decode != last.running_decode);
    }
    last_seen_[i] = now;
  }
  sampled_ = true;
}

TimelineStats Timeline::finish() {
  FLOWKV_CHECK(!finished_, "Timeline::finish() called twice");
  finished_ = true;
  if (nodes_ != nullptr && last_event_) sample(*last_event_);
  const Time run_end = last_event_.value_or(Time::zero());
  for (uint32_t i = 0; i < down_since_.size(); ++i) {
    if (down_since_[i]) down_slice(i, *down_since_[i], std::max(run_end, *down_since_[i]), true);
  }
  link_faults(run_end);
  std::string extra = "\"displayTimeUnit\":\"ms\",\"otherData\":{\"generator\":\"flowkv\",\"scenario\":";
  append_json_string(extra, scenario_name_);
  extra += ",\"window_us\":";
  if (windowed_) {
    extra += '[';
    append_micros(extra, window_.start.ns());
    extra += ',';
    if (window_.end == Time::max()) {
      extra += "null";
    } else {
      append_micros(extra, window_.end.ns());
    }
    extra += ']';
  } else {
    extra += "null";
  }
  extra += '}';
  writer_.finish(extra);
  return TimelineStats{writer_.events(), dropped_, writer_.bytes()};
}

}  // namespace flowkv::core
