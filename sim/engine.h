// Engine: the simulator's deterministic event queue.
//
// Events are kept in a binary heap keyed by (time, sequence number): events at equal times pop
// in the order they were scheduled, so a run is a pure function of its inputs. Scheduling in the
// past is an internal error (checked). There is no cancellation: a component that may change its
// mind (the link model) tags its events with a generation and ignores stale ones on arrival.
// The engine is an ordinary object (no singleton): a test or a thread builds its own.
// Not thread-safe.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/base/error.h"
#include "core/base/time.h"

namespace flowkv::sim {

using core::Duration;
using core::Time;

template <typename Payload>
class Engine {
 public:
  struct Event {
    Time time;
    uint64_t seq = 0;
    Payload payload{};
  };

  Time now() const { return now_; }
  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  // Time of the next event; the queue must not be empty.
  Time next_time() const { return heap_.front().time; }

  void schedule(Time at, const Payload& payload) {
    FLOWKV_CHECK(at >= now_, "event scheduled in the past (" + std::to_string(at.ns()) + " ns < now " +
                                 std::to_string(now_.ns()) + " ns)");
    heap_.push_back(Event{at, next_seq_++, payload});
    std::push_heap(heap_.begin(), heap_.end(), Later{});
  }
  void schedule_after(Duration delay, const Payload& payload) { schedule(now_ + delay, payload); }

  // Removes the earliest event and advances now() to its time.
  Event pop() {
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    Event e = heap_.back();
    heap_.pop_back();
    now_ = e.time;
    ++popped_;
    return e;
  }

  // Moves the clock forward without an event (the backend's arrivals come from a stream).
  void advance_to(Time t) {
    FLOWKV_CHECK(t >= now_, "time moved backwards");
    now_ = t;
  }

  uint64_t events_popped() const { return popped_; }

 private:
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.time != b.time ? a.time > b.time : a.seq > b.seq;
    }
  };
  std::vector<Event> heap_;
  Time now_ = Time::zero();
  uint64_t next_seq_ = 0;
  uint64_t popped_ = 0;
};

}  // namespace flowkv::sim
