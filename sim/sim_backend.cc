#include "sim/sim_backend.h"

#include <variant>

#include "core/error.h"

namespace flowkv::sim {

using core::Completion;
using core::Duration;
using core::Time;

SimBackend::SimBackend(const core::Scenario& scenario, std::span<const core::Request> requests)
    : scenario_(scenario), requests_(requests), links_(scenario.nodes.size(), scenario.link.bytes_per_s) {
  compute_.reserve(scenario.nodes.size());
  for (const core::NodeSpec& n : scenario.nodes) compute_.emplace_back(scenario.model, n, scenario.cost);
}

void SimBackend::submit(const core::Work& work) {
  if (const auto* it = std::get_if<core::Iteration>(&work)) {
    FLOWKV_CHECK(core::to_int(it->node) < compute_.size(), "iteration on an unknown node");
    ++outstanding_;
    engine_.schedule_after(compute_[core::to_int(it->node)].iteration_time(*it),
                           Payload{Kind::kWorkDone, core::to_int(it->id)});
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
    transfers_[index] = PendingTransfer{t->id, core::to_int(t->src), core::to_int(t->dst), t->bytes};
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
    engine_.schedule_after(setup, Payload{Kind::kTransferLatencyDone, index});
  } else if (const auto* f = std::get_if<core::RoleFlip>(&work)) {
    ++outstanding_;
    engine_.schedule_after(f->cost, Payload{Kind::kWorkDone, core::to_int(f->id)});
  } else if (const auto* tm = std::get_if<core::Timer>(&work)) {
    engine_.schedule_after(tm->delay, Payload{Kind::kTimer, core::to_int(tm->id)});
  }
}

void SimBackend::schedule_link_check() {
  if (const auto t = links_.next_completion()) {
    engine_.schedule(*t, Payload{Kind::kLinkCheck, links_.generation()});
  }
}

void SimBackend::complete(core::WorkId id, Time t) {
  --outstanding_;
  Completion c;
  c.kind = Completion::Kind::kWorkDone;
  c.time = t;
  c.work = id;
  c.state = core::WorkState::kCompleted;
  ready_.push_back(c);
}

std::optional<Completion> SimBackend::next() {
  while (true) {
    if (!ready_.empty()) {
      const Completion c = ready_.front();
      ready_.pop_front();
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
      case Kind::kWorkDone:
        complete(core::WorkId{e.payload.value}, e.time);
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
        free_transfers_.push_back(index);
        if (t.bytes <= 0) {
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
