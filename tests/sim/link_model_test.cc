// Flows that share a link share its bandwidth (max-min fair), so contention shows up in transfer
// times: two equal flows over one link take twice as long as one alone.
#include <gtest/gtest.h>

#include <vector>

#include "sim/link_model.h"

namespace flowkv::sim {
namespace {

using core::Time;

// Runs the model until every flow is done; returns each tag's finish time in ns.
std::vector<int64_t> finish_times(LinkModel& m, size_t flows) {
  std::vector<int64_t> done(flows, -1);
  std::vector<uint64_t> finished;
  while (m.active() > 0) {
    const Time t = *m.next_completion();
    finished.clear();
    m.advance(t, finished);
    for (uint64_t tag : finished) done[tag] = t.ns();
  }
  return done;
}

TEST(LinkModel, OneFlowTakesBytesOverBandwidth) {
  LinkModel m(4, 1e9);  // 1 GB/s: 1 byte per ns
  m.add(Time::zero(), 0, 2, 1'000'000, 0);
  EXPECT_EQ(finish_times(m, 1), (std::vector<int64_t>{1'000'000}));
}

TEST(LinkModel, TwoEqualFlowsOnOneLinkTakeTwiceAsLong) {
  LinkModel m(4, 1e9);
  m.add(Time::zero(), 0, 2, 1'000'000, 0);
  m.add(Time::zero(), 0, 2, 1'000'000, 1);
  EXPECT_EQ(m.rates(), (std::vector<double>{0.5e9, 0.5e9}));
  EXPECT_EQ(finish_times(m, 2), (std::vector<int64_t>{2'000'000, 2'000'000}));
}

TEST(LinkModel, DisjointPairsDoNotInterfere) {
  LinkModel m(4, 1e9);
  m.add(Time::zero(), 0, 2, 1'000'000, 0);
  m.add(Time::zero(), 1, 3, 1'000'000, 1);
  EXPECT_EQ(finish_times(m, 2), (std::vector<int64_t>{1'000'000, 1'000'000}));
}

TEST(LinkModel, LateFlowSlowsTheFirstOnlyWhileBothRun) {
  LinkModel m(2, 1e9);
  m.add(Time::zero(), 0, 1, 1'000'000, 0);
  // At 0.5 ms the first has 0.5 MB left; both then run at half speed: the first needs 1 ms more,
  // by which time the second has moved 0.5 MB and then finishes alone 0.5 ms later.
  m.add(Time::from_nanos(500'000), 0, 1, 1'000'000, 1);
  EXPECT_EQ(finish_times(m, 2), (std::vector<int64_t>{1'500'000, 2'000'000}));
}

TEST(LinkModel, MaxMinFairAcrossPorts) {
  // Nodes 0..2 send, 3..4 receive. Three flows into node 4 share its ingress (1/3 each); the
  // flow 0->3 gets what node 0's egress has left (2/3).
  LinkModel m(5, 3e9);
  m.add(Time::zero(), 0, 3, 1000, 0);
  m.add(Time::zero(), 0, 4, 1000, 1);
  m.add(Time::zero(), 1, 4, 1000, 2);
  m.add(Time::zero(), 2, 4, 1000, 3);
  const std::vector<double> r = m.rates();
  EXPECT_DOUBLE_EQ(r[0], 2e9);
  EXPECT_DOUBLE_EQ(r[1], 1e9);
  EXPECT_DOUBLE_EQ(r[2], 1e9);
  EXPECT_DOUBLE_EQ(r[3], 1e9);
}

TEST(LinkModel, GenerationChangesWhenFlowsChange) {
  LinkModel m(2, 1e9);
  const uint64_t g0 = m.generation();
  m.add(Time::zero(), 0, 1, 10, 0);
  EXPECT_NE(m.generation(), g0);
  EXPECT_TRUE(m.next_completion().has_value());
}

}  // namespace
}  // namespace flowkv::sim
