#include "sim/sim_backend.h"

#include <algorithm>
#include <variant>

#include "core/base/error.h"

namespace flowkv::sim {

using core::Completion;
using core::Duration;
using core::Time;

namespace {

std::shared_ptr<const CalibratedModel> fitted(const core::Scenario& scenario, std::shared_ptr<const CalibratedModel> given) {
  if (scenario.cost.kind != core::CostModelKind::kCalibrated) return nullptr;
  return given ? std::move(given) : calibrated_model_for(scenario);
}

}  // namespace

SimBackend::SimBackend(const core::Scenario& scenario, std::span<const core::Request> requests,
                       std::shared_ptr<const CalibratedModel> calibrated)
    : scenario_(scenario), requests_(requests), calibrated_(fitted(scenario, std::move(calibrated))),
      links_(scenario.nodes.size(), calibrated_ ? calibrated_->transfer_bytes_per_s() : scenario.link.bytes_per_s) {
  compute_.reserve(scenario.nodes.size());
  for (const core::NodeSpec& n : scenario.nodes) compute_.emplace_back(scenario.model, n, scenario.cost);
  const size_t nodes = scenario.nodes.size();
  down_.assign(nodes, 0);
  sender_free_.assign(nodes, Time::zero());
  link_down_.assign(nodes, 0);
  slow_.resize(nodes);
  on_node_.resize(nodes);
  for (size_t i = 0; i < scenario.faults.size(); ++i) {
    const core::FaultSpec& f = scenario.faults[i];
    FLOWKV_CHECK(core::to_int(f.node) < nodes, "fault on an unknown node");
    engine_.schedule(f.at, Payload{Kind::kFaultStart, static_cast<uint32_t>(i), 0});
    if (f.duration) engine_.schedule(f.at + *f.duration, Payload{Kind::kFaultEnd, static_cast<uint32_t>(i), 0});
  }
}

void SimBackend::submit(const core::Work& work) {
  if (const auto* it = std::get_if<core::Iteration>(&work)) {
    const uint32_t node = core::to_int(it->node);
    FLOWKV_CHECK(node < compute_.size(), "iteration on an unknown node");
    ++outstanding_;
    if (down_[node] > 0) {  // the controller knows better; fail rather than run on a dead node
      fail(it->id, engine_.now());
      return;
    }
    on_node_[node].push_back(core::to_int(it->id));
    const Duration took = calibrated_ ? calibrated_->iteration_time(scenario_.nodes[node].layout.kind, shape_of(*it))
                                      : compute_[node].iteration_time(*it);
    engine_.schedule_after(took, Payload{Kind::kWorkDone, node, core::to_int(it->id)});
  } else if (const auto* t = std::get_if<core::Transfer>(&work)) {
    ++outstanding_;
    uint32_t index;
    if (!free_transfers_.empty()) {
      index = free_transfers_.back();
      free_transfers_.pop_back();
    } else {
      index = static_cast<uint32_t>(transfers_.size());
      transfers_.emplace_back();
    }
    transfers_[index] = PendingTransfer{t->id, core::to_int(t->src), core::to_int(t->dst), t->bytes, true};
    if (calibrated_) {
      // As the live backend on one device: a node sends its transfers one after another, each
      // taking the fitted time (a per-layer transfer's gather and scatter move its bytes twice more).
      const uint32_t src = core::to_int(t->src);
      const double bytes = static_cast<double>(t->bytes) * (t->local_copies > 0 ? 3.0 : 1.0);
      const Time start = std::max(engine_.now(), sender_free_[src]);
      sender_free_[src] = start + calibrated_->transfer_latency(t->calls + t->local_copies) +
                          Duration::from_seconds(bytes / calibrated_->transfer_bytes_per_s());
      transfers_[index].bytes = 0;  // no bytes phase: done when its time on the sender is
      engine_.schedule(sender_free_[src], Payload{Kind::kTransferLatencyDone, 0, index});
      return;
    }
    Duration setup = scenario_.link.per_call_latency * t->calls;
    if (t->local_copies > 0) {
      // Per-layer transfers gather into a staging buffer on the source and scatter on the
      // destination: each side reads and writes the bytes once at its HBM speed.
      for (uint32_t node : {core::to_int(t->src), core::to_int(t->dst)}) {
        const core::GpuSpec& gpu = scenario_.nodes[node].gpu;
        setup += Duration::from_seconds(2.0 * static_cast<double>(t->bytes) /
                                        (gpu.hbm_bytes_per_s * scenario_.cost.memory_efficiency));
      }
    }
    engine_.schedule_after(setup, Payload{Kind::kTransferLatencyDone, 0, index});
  } else if (const auto* f = std::get_if<core::RoleFlip>(&work)) {
    const uint32_t node = core::to_int(f->node);
    FLOWKV_CHECK(node < compute_.size(), "role flip on an unknown node");
    ++outstanding_;
    if (down_[node] > 0) {
      fail(f->id, engine_.now());
      return;
    }
    on_node_[node].push_back(core::to_int(f->id));
    engine_.schedule_after(f->cost, Payload{Kind::kWorkDone, node, core::to_int(f->id)});
  } else if (const auto* tm = std::get_if<core::Timer>(&work)) {
    engine_.schedule_after(tm->delay, Payload{Kind::kTimer, 0, core::to_int(tm->id)});
  }
}

void SimBackend::schedule_link_check() {
  if (const auto t = links_.next_completion()) {
    engine_.schedule(*t, Payload{Kind::kLinkCheck, 0, links_.generation()});
  }
}

Completion SimBackend::work_done(core::WorkId id, Time t, core::WorkState state) {
  Completion c;
  c.kind = Completion::Kind::kWorkDone;
  c.time = t;
  c.work = id;
  c.state = state;
  return c;
}

void SimBackend::complete(core::WorkId id, Time t) {
  --outstanding_;
  ready_.push_back(work_done(id, t, core::WorkState::kCompleted));
}

void SimBackend::fail(core::WorkId id, Time t) {
  --outstanding_;
  ready_.push_back(work_done(id, t, core::WorkState::kFailed));
}

// Fails the transfers from or to `node` (and, for a crash, its iteration and flip), in
// submission order within each kind.
void SimBackend::fail_node_work(uint32_t node, bool iterations_too, Time t) {
  if (iterations_too) {
    for (const uint64_t id : on_node_[node]) fail(core::WorkId{id}, t);
    on_node_[node].clear();
  }
  for (PendingTransfer& p : transfers_) {
    if (p.active && (p.src == node || p.dst == node)) {
      p.active = false;  // its latency event frees the entry
      fail(p.id, t);
    }
  }
  finished_.clear();
  links_.drop_node(t, node, finished_);
  for (const uint64_t tag : finished_) fail(core::WorkId{tag}, t);
  schedule_link_check();
}

void SimBackend::on_fault(size_t index, bool start, Time t) {
  const core::FaultSpec& f = scenario_.faults[index];
  const uint32_t node = core::to_int(f.node);
  switch (f.kind) {
    case core::FaultKind::kCrash:
      if (start && ++down_[node] == 1) {
        Completion c;
        c.kind = Completion::Kind::kNodeDown;
        c.time = t;
        c.node = f.node;
        ready_.push_back(c);
        fail_node_work(node, true, t);
      } else if (!start && --down_[node] == 0) {
        Completion c;
        c.kind = Completion::Kind::kNodeUp;
        c.time = t;
        c.node = f.node;
        ready_.push_back(c);
      }
      break;
    case core::FaultKind::kLinkDown:
      if (start && ++link_down_[node] == 1) fail_node_work(node, false, t);
      if (!start) --link_down_[node];
      break;
    case core::FaultKind::kLinkSlow: {
      std::vector<double>& active = slow_[node];
      if (start) {
        active.push_back(f.factor);
      } else {
        active.erase(std::find(active.begin(), active.end(), f.factor));
      }
      double factor = 1.0;
      for (const double x : active) factor *= x;
      links_.set_node_factor(t, node, std::max(factor, 1e-9));
      schedule_link_check();
      break;
    }
  }
}

std::optional<Completion> SimBackend::next() {
  while (true) {
    if (ready_head_ < ready_.size()) {
      const Completion c = ready_[ready_head_++];
      if (ready_head_ == ready_.size()) {
        ready_.clear();
        ready_head_ = 0;
      }
      return c;
    }
    const bool have_arrival = next_arrival_ < requests_.size();
    if (!have_arrival && outstanding_ == 0) return std::nullopt;
    if (have_arrival && (engine_.empty() || requests_[next_arrival_].arrival < engine_.next_time())) {
      const core::Request& r = requests_[next_arrival_++];
      engine_.advance_to(r.arrival);
      ++arrivals_done_;
      Completion c;
      c.kind = Completion::Kind::kArrival;
      c.time = r.arrival;
      c.request = &r;
      return c;
    }
    FLOWKV_CHECK(!engine_.empty(), "work outstanding but no event scheduled");
    const auto e = engine_.pop();
    switch (e.payload.kind) {
      case Kind::kWorkDone: {
        // Not on the node's list any more: a crash failed it already.
        std::vector<uint64_t>& running = on_node_[e.payload.node];
        const auto it = std::find(running.begin(), running.end(), e.payload.value);
        if (it == running.end()) break;
        running.erase(it);
        // Events are popped only once ready_ is drained, so nothing is queued before this one:
        // hand it out directly rather than through ready_ (the order is the same).
        if (ready_head_ == ready_.size()) {
          --outstanding_;
          return work_done(core::WorkId{e.payload.value}, e.time, core::WorkState::kCompleted);
        }
        complete(core::WorkId{e.payload.value}, e.time);
        break;
      }
      case Kind::kFaultStart:
      case Kind::kFaultEnd:
        on_fault(e.payload.node, e.payload.kind == Kind::kFaultStart, e.time);
        break;
      case Kind::kTimer: {
        Completion c;
        c.kind = Completion::Kind::kTimer;
        c.time = e.time;
        c.work = core::WorkId{e.payload.value};
        return c;
      }
      case Kind::kTransferLatencyDone: {
        const uint32_t index = static_cast<uint32_t>(e.payload.value);
        const PendingTransfer t = transfers_[index];
        transfers_[index].active = false;
        free_transfers_.push_back(index);
        if (!t.active) break;  // failed by a fault during its latency phase
        if (!link_usable(t.src) || !link_usable(t.dst)) {
          fail(t.id, e.time);
        } else if (t.bytes <= 0) {
          complete(t.id, e.time);
        } else {
          links_.add(e.time, t.src, t.dst, t.bytes, core::to_int(t.id));
          schedule_link_check();
        }
        break;
      }
      case Kind::kLinkCheck: {
        if (e.payload.value != links_.generation()) break;  // superseded by a later re-solve
        finished_.clear();
        links_.advance(e.time, finished_);
        for (const uint64_t tag : finished_) complete(core::WorkId{tag}, e.time);
        schedule_link_check();
        break;
      }
    }
  }
}

}  // namespace flowkv::sim
