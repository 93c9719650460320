// Block allocators: property tests over random alloc/free histories against a brute-force
// model of the pool, plus the placement policy of each allocator.
#include "core/kv/block_allocator.h"

#include <gtest/gtest.h>

#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "core/base/error.h"
#include "core/kv/free_list_allocator.h"
#include "core/kv/pool_history.h"
#include "core/kv/segment_allocator.h"

namespace flowkv::core {
namespace {

BlockList runs(std::initializer_list<std::pair<int64_t, int64_t>> list) {
  BlockList out;
  for (const auto& [first, count] : list)
    out.push_back(BlockRun{static_cast<BlockId>(first), count});
  return out;
}

FragmentationStats recount(const std::vector<bool>& used) {
  FragmentationStats s;
  int64_t run = 0;
  for (size_t b = 0; b <= used.size(); ++b) {
    if (b < used.size() && !used[b]) {
      ++s.free_blocks;
      ++run;
      continue;
    }
    if (run > 0) {
      ++s.free_runs;
      s.largest_free_run = std::max(s.largest_free_run, run);
    }
    run = 0;
  }
  return s;
}

void expect_stats_eq(const FragmentationStats& got, const FragmentationStats& want) {
  EXPECT_EQ(got.free_blocks, want.free_blocks);
  EXPECT_EQ(got.free_runs, want.free_runs);
  EXPECT_EQ(got.largest_free_run, want.largest_free_run);
}

class AllocatorProperties : public ::testing::TestWithParam<AllocatorKind> {};

// Invariants: a block is never handed out twice; allocate(n) gives exactly n blocks as maximal
// runs inside the pool; usage and fragmentation figures equal a recount of a bitmap; freeing
// everything coalesces back into one run.
TEST_P(AllocatorProperties, RandomHistoriesKeepTheInvariants) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 rng(seed);
    // Sizes around the free-list bitmap's 64-block words first, then random ones.
    constexpr int64_t kEdgeSizes[] = {1, 63, 64, 65, 128, 200};
    const int64_t pool = seed <= std::size(kEdgeSizes)
                             ? kEdgeSizes[seed - 1]
                             : 1 + static_cast<int64_t>(uniform_below(rng, 300));
    auto allocator = make_allocator(GetParam(), pool);
    ASSERT_EQ(allocator->kind(), GetParam());
    std::vector<bool> used(static_cast<size_t>(pool), false);
    std::vector<BlockList> live;
    int64_t used_count = 0;
    for (int step = 0; step < 2000; ++step) {
      const bool do_alloc = live.empty() || uniform_below(rng, 100) < 55;
      if (do_alloc) {
        const int64_t n =
            1 + static_cast<int64_t>(uniform_below(rng, static_cast<uint64_t>(pool / 3 + 1)));
        BlockList out;
        const bool ok = allocator->allocate(n, out);
        ASSERT_EQ(ok, n <= pool - used_count) << "seed " << seed << " step " << step;
        if (!ok) {
          EXPECT_TRUE(out.empty());
          continue;
        }
        EXPECT_EQ(total_blocks(out), n);
        for (size_t i = 0; i < out.size(); ++i) {
          ASSERT_GT(out[i].count, 0);
          if (i > 0) {
            EXPECT_NE(int64_t{to_int(out[i - 1].first)} + out[i - 1].count,
                      int64_t{to_int(out[i].first)})
                << "adjacent runs were not merged";
          }
          for (int64_t k = 0; k < out[i].count; ++k) {
            const int64_t b = int64_t{to_int(out[i].first)} + k;
            ASSERT_LT(b, pool);
            ASSERT_FALSE(used[static_cast<size_t>(b)]) << "block " << b << " handed out twice";
            used[static_cast<size_t>(b)] = true;
          }
        }
        used_count += n;
        live.push_back(std::move(out));
      } else {
        const size_t i = static_cast<size_t>(uniform_below(rng, live.size()));
        allocator->free(live[i]);
        for (const BlockRun& r : live[i]) {
          for (int64_t k = 0; k < r.count; ++k)
            used[static_cast<size_t>(to_int(r.first) + k)] = false;
        }
        used_count -= total_blocks(live[i]);
        live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
      }
      ASSERT_EQ(allocator->num_used(), used_count);
      ASSERT_EQ(allocator->num_free(), pool - used_count);
      expect_stats_eq(allocator->fragmentation(), recount(used));
    }
    for (const BlockList& l : live) allocator->free(l);
    EXPECT_EQ(allocator->num_free(), pool);
    EXPECT_DOUBLE_EQ(allocator->usage(), 0.0);
    expect_stats_eq(allocator->fragmentation(), FragmentationStats{pool, 1, pool});
  }
}

TEST_P(AllocatorProperties, FailedAllocationChangesNothing) {
  auto allocator = make_allocator(GetParam(), 10);
  BlockList a;
  ASSERT_TRUE(allocator->allocate(7, a));
  BlockList out = runs({{9, 1}});
  EXPECT_FALSE(allocator->allocate(4, out));
  EXPECT_EQ(out, runs({{9, 1}}));
  EXPECT_EQ(allocator->num_free(), 3);
  BlockList b;
  EXPECT_TRUE(allocator->allocate(3, b));
  EXPECT_EQ(allocator->num_free(), 0);
  EXPECT_DOUBLE_EQ(allocator->usage(), 1.0);
}

TEST_P(AllocatorProperties, AllocateAppendsAndExtendsTheLastRun) {
  auto allocator = make_allocator(GetParam(), 10);
  BlockList out;
  ASSERT_TRUE(allocator->allocate(3, out));
  ASSERT_TRUE(allocator->allocate(2, out));
  // Both allocators hand out 0..4 in order on a fresh pool: one run.
  EXPECT_EQ(out, runs({{0, 5}}));
}

TEST_P(AllocatorProperties, BadFreesAreInternalErrors) {
  auto allocator = make_allocator(GetParam(), 8);
  BlockList a;
  ASSERT_TRUE(allocator->allocate(4, a));
  allocator->free(a);
  try {
    allocator->free(a);  // double free
    FAIL() << "a double free was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInternal);
    EXPECT_NE(std::string(e.what()).find("already"), std::string::npos) << e.what();
  }
  EXPECT_THROW(allocator->free(runs({{6, 1}})), Error);  // never allocated
  EXPECT_THROW(allocator->free(runs({{7, 2}})), Error);  // past the end of the pool
  EXPECT_THROW(allocator->allocate(0, a), Error);
  EXPECT_EQ(allocator->num_free(), 8);
}

INSTANTIATE_TEST_SUITE_P(Both, AllocatorProperties,
                         ::testing::Values(AllocatorKind::kSegment, AllocatorKind::kFreeList),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// Leaves free runs of the given lengths, separated by one used block each, in a pool of
// exactly that size; returns the allocator.
SegmentAllocator pool_with_free_runs(const std::vector<int64_t>& lengths) {
  int64_t size = 0;
  for (int64_t len : lengths) size += len + 1;
  SegmentAllocator a(size);
  BlockList all;
  EXPECT_TRUE(a.allocate(size, all));
  int64_t at = 0;
  for (int64_t len : lengths) {
    a.free(runs({{at, len}}));
    at += len + 1;
  }
  return a;
}

TEST(SegmentAllocator, BestFitTakesTheSmallestRunThatHoldsTheRequest) {
  // Free runs: [0,10) [11,16) [17,20) [21,28)
  SegmentAllocator a = pool_with_free_runs({10, 5, 3, 7});
  BlockList out;
  ASSERT_TRUE(a.allocate(4, out));
  EXPECT_EQ(out, runs({{11, 4}}));  // the 5-run, not the 7- or 10-run
  out.clear();
  ASSERT_TRUE(a.allocate(3, out));
  EXPECT_EQ(out, runs({{17, 3}}));  // exact fit
  out.clear();
  ASSERT_TRUE(a.allocate(7, out));
  EXPECT_EQ(out, runs({{21, 7}}));
  expect_stats_eq(a.fragmentation(), FragmentationStats{11, 2, 10});
}

TEST(SegmentAllocator, WhenNoRunFitsItTakesTheLargestRunsFirst) {
  // Free runs: 10 at 0, 6 at 11, 4 at 18, 2 at 23.
  SegmentAllocator a = pool_with_free_runs({10, 6, 4, 2});
  BlockList out;
  ASSERT_TRUE(a.allocate(13, out));
  // The 10-run whole, then the best fit for 3 (the 4-run), in address order.
  EXPECT_EQ(out, runs({{0, 10}, {18, 3}}));
  expect_stats_eq(a.fragmentation(), FragmentationStats{9, 3, 6});
}

TEST(SegmentAllocator, FreeCoalescesWithBothNeighbours) {
  SegmentAllocator a(12);
  BlockList x, y, z;
  ASSERT_TRUE(a.allocate(4, x));
  ASSERT_TRUE(a.allocate(4, y));
  ASSERT_TRUE(a.allocate(4, z));
  a.free(x);
  a.free(z);
  expect_stats_eq(a.fragmentation(), FragmentationStats{8, 2, 4});
  a.free(y);
  expect_stats_eq(a.fragmentation(), FragmentationStats{12, 1, 12});
}

TEST(FreeListAllocator, HandsOutInFifoOrder) {
  FreeListAllocator a(6);
  BlockList first, rest, again;
  ASSERT_TRUE(a.allocate(2, first));
  EXPECT_EQ(first, runs({{0, 2}}));
  a.free(first);  // 0, 1 go to the back of the queue: 2 3 4 5 0 1
  ASSERT_TRUE(a.allocate(5, rest));
  EXPECT_EQ(rest, runs({{2, 4}, {0, 1}}));
  ASSERT_TRUE(a.allocate(1, again));
  EXPECT_EQ(again, runs({{1, 1}}));
}

// The reason FlowKV has its own allocator: after the same history, a request lands in far
// fewer runs with the segment allocator than with the FIFO free list.
TEST(Allocators, SegmentPlacesARequestInFewerRunsThanTheFreeList) {
  int64_t segment_runs = 0, freelist_runs = 0;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    for (AllocatorKind kind : {AllocatorKind::kSegment, AllocatorKind::kFreeList}) {
      auto a = make_allocator(kind, 4096);
      PoolHistoryOptions options;
      options.occupancy = 0.5;
      options.seed = seed;
      fill_pool(*a, options);
      BlockList request;
      ASSERT_TRUE(a->allocate(512, request));
      (kind == AllocatorKind::kSegment ? segment_runs : freelist_runs) +=
          static_cast<int64_t>(request.size());
    }
  }
  EXPECT_LT(segment_runs * 4, freelist_runs) << segment_runs << " vs " << freelist_runs;
}

TEST(Allocators, NamesAndParsing) {
  EXPECT_EQ(parse_allocator_kind("segment"), AllocatorKind::kSegment);
  EXPECT_EQ(parse_allocator_kind("freelist"), AllocatorKind::kFreeList);
  try {
    parse_allocator_kind("buddy");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_NE(std::string(e.what()).find("segment, freelist"), std::string::npos);
  }
  EXPECT_STREQ(to_string(AllocatorKind::kFreeList), "freelist");
}

TEST(Allocators, TotalBlocksAndAppendRun) {
  BlockList l;
  append_run(l, BlockId{3}, 2);
  append_run(l, BlockId{5}, 1);
  append_run(l, BlockId{9}, 4);
  EXPECT_EQ(l, runs({{3, 3}, {9, 4}}));
  EXPECT_EQ(total_blocks(l), 7);
}

}  // namespace
}  // namespace flowkv::core
