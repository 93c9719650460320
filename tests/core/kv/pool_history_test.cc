// Pool pre-fill: exact occupancy, determinism, and the random integer helper it relies on.
#include "core/kv/pool_history.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "core/base/error.h"

namespace flowkv::core {
namespace {

class PoolHistory : public ::testing::TestWithParam<AllocatorKind> {};

TEST_P(PoolHistory, ReachesExactlyTheOccupancyWithDisjointLiveAllocations) {
  for (double occupancy : {0.0, 0.1, 0.5, 0.9, 1.0}) {
    auto a = make_allocator(GetParam(), 1001);
    PoolHistoryOptions options;
    options.occupancy = occupancy;
    options.seed = 42;
    const auto live = fill_pool(*a, options);
    const int64_t target = std::llround(occupancy * 1001);
    EXPECT_EQ(a->num_used(), target) << occupancy;
    std::set<int64_t> seen;
    int64_t total = 0;
    for (const BlockList& l : live) {
      total += total_blocks(l);
      for (const BlockRun& r : l)
        for (int64_t k = 0; k < r.count; ++k) EXPECT_TRUE(seen.insert(to_int(r.first) + k).second);
    }
    EXPECT_EQ(total, target);
    for (const BlockList& l : live) a->free(l);
    EXPECT_EQ(a->fragmentation().free_runs, 1);
  }
}

TEST_P(PoolHistory, SameSeedSameBlocksOtherSeedOtherBlocks) {
  auto run = [&](uint64_t seed) {
    auto a = make_allocator(GetParam(), 2048);
    PoolHistoryOptions options;
    options.occupancy = 0.6;
    options.seed = seed;
    fill_pool(*a, options);
    BlockList request;
    EXPECT_TRUE(a->allocate(300, request));
    return request;
  };
  EXPECT_EQ(run(5), run(5));
  EXPECT_NE(run(5), run(6));
}

TEST_P(PoolHistory, ZeroOccupancyLeavesThePoolUntouched) {
  auto a = make_allocator(GetParam(), 64);
  EXPECT_TRUE(fill_pool(*a, PoolHistoryOptions{}).empty());
  BlockList request;
  ASSERT_TRUE(a->allocate(64, request));
  EXPECT_EQ(request.size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Both, PoolHistory,
                         ::testing::Values(AllocatorKind::kSegment, AllocatorKind::kFreeList),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(PoolHistory, BadOccupancyIsAnInputError) {
  auto a = make_allocator(AllocatorKind::kSegment, 8);
  PoolHistoryOptions options;
  options.occupancy = 1.5;
  try {
    fill_pool(*a, options);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_NE(std::string(e.what()).find("[0, 1]"), std::string::npos);
  }
}

TEST(UniformBelow, StaysInRangeAndIsRoughlyUniform) {
  std::mt19937_64 rng(1);
  std::vector<int> counts(10, 0);
  for (int i = 0; i < 100000; ++i) {
    const uint64_t x = uniform_below(rng, 10);
    ASSERT_LT(x, 10u);
    ++counts[x];
  }
  for (int c : counts) EXPECT_NEAR(c, 10000, 500);
  EXPECT_EQ(uniform_below(rng, 1), 0u);
}

}  // namespace
}  // namespace flowkv::core
