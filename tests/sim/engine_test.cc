// The event engine's ordering is what makes runs reproducible: events pop by time, equal times in
// scheduling order, and nothing may be scheduled in the past.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "core/base/error.h"
#include "sim/engine.h"

namespace flowkv::sim {
namespace {

TEST(Engine, PopsByTimeThenBySchedulingOrder) {
  Engine<int> e;
  e.schedule(Time::from_nanos(30), 1);
  e.schedule(Time::from_nanos(10), 2);
  e.schedule(Time::from_nanos(30), 3);
  e.schedule(Time::from_nanos(10), 4);
  e.schedule(Time::from_nanos(20), 5);
  std::vector<int> order;
  std::vector<int64_t> times;
  while (!e.empty()) {
    const auto ev = e.pop();
    order.push_back(ev.payload);
    times.push_back(ev.time.ns());
    EXPECT_EQ(e.now(), ev.time);
  }
  EXPECT_EQ(order, (std::vector<int>{2, 4, 5, 1, 3}));
  EXPECT_EQ(times, (std::vector<int64_t>{10, 10, 20, 30, 30}));
  EXPECT_EQ(e.events_popped(), 5u);
}

TEST(Engine, ManyEqualTimesKeepInsertionOrder) {
  Engine<int> e;
  for (int i = 0; i < 1000; ++i) e.schedule(Time::from_nanos(5), i);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(e.pop().payload, i);
}

TEST(Engine, SchedulingInThePastIsAnInternalError) {
  Engine<int> e;
  e.schedule(Time::from_nanos(100), 1);
  e.pop();
  EXPECT_THROW(e.schedule(Time::from_nanos(99), 2), core::Error);
  EXPECT_NO_THROW(e.schedule(Time::from_nanos(100), 3));  // now is allowed
  EXPECT_THROW(e.advance_to(Time::from_nanos(50)), core::Error);
}

// Events scheduled while popping (as the backend does) interleave deterministically: two engines
// fed the same random program produce the same sequence.
TEST(Engine, SameProgramSameSequence) {
  auto run = [](uint64_t seed) {
    Engine<uint64_t> e;
    std::mt19937_64 rng(seed);
    for (int i = 0; i < 100; ++i) e.schedule(Time::from_nanos(static_cast<int64_t>(rng() % 1000)), rng());
    std::vector<std::pair<int64_t, uint64_t>> seen;
    while (!e.empty() && seen.size() < 5000) {
      const auto ev = e.pop();
      seen.emplace_back(ev.time.ns(), ev.payload);
      if (ev.payload % 3 != 0) e.schedule_after(Duration::nanos(static_cast<int64_t>(ev.payload % 7)), ev.payload / 3);
    }
    return seen;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

}  // namespace
}  // namespace flowkv::sim
