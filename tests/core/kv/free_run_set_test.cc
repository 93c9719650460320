// FreeRunSet (the segment allocator's index of free runs) against a brute-force model: after
// every insert or erase of a random history, best fit, the largest run, the run count and
// is_free must equal a rescan of a plain bitmap. The simulator's outputs depend on best fit
// picking exactly this run (smallest length, then lowest first id), so any drift shows here.
#include "core/kv/free_run_set.h"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/base/error.h"

namespace flowkv::core {
namespace {

struct Model {
  std::vector<bool> free;

  std::vector<FreeRunSet::Run> runs() const {
    std::vector<FreeRunSet::Run> out;
    for (size_t b = 0; b < free.size(); ++b) {
      if (!free[b]) continue;
      if (b == 0 || !free[b - 1]) out.push_back({static_cast<int64_t>(b), 0});
      ++out.back().count;
    }
    return out;
  }
  std::optional<FreeRunSet::Run> best_fit(int64_t n) const {
    std::optional<FreeRunSet::Run> best;
    for (const auto& r : runs()) {
      if (r.count >= n && (!best || r.count < best->count)) best = r;
    }
    return best;
  }
  FreeRunSet::Run largest() const {
    FreeRunSet::Run best;
    for (const auto& r : runs()) {
      if (r.count >= best.count) best = r;
    }
    return best;
  }
};

void expect_same(const FreeRunSet& set, const Model& model, const std::string& where) {
  SCOPED_TRACE(where);
  const auto runs = model.runs();
  int64_t free_blocks = 0;
  for (const auto& r : runs) free_blocks += r.count;
  ASSERT_EQ(set.num_free(), free_blocks);
  ASSERT_EQ(set.num_runs(), static_cast<int64_t>(runs.size()));
  for (size_t b = 0; b < model.free.size(); ++b) ASSERT_EQ(set.is_free(static_cast<int64_t>(b)), model.free[b]) << b;
  const FreeRunSet::Run big = set.largest();
  const FreeRunSet::Run want_big = model.largest();
  ASSERT_EQ(big.first, want_big.first);
  ASSERT_EQ(big.count, want_big.count);
  for (int64_t n = 1; n <= static_cast<int64_t>(model.free.size()) + 1; ++n) {
    const auto got = set.best_fit(n);
    const auto want = model.best_fit(n);
    ASSERT_EQ(got.has_value(), want.has_value()) << "n = " << n;
    if (got) {
      ASSERT_EQ(got->first, want->first) << "n = " << n;
      ASSERT_EQ(got->count, want->count) << "n = " << n;
    }
  }
}

TEST(FreeRunSet, RandomHistoriesMatchABitmapModel) {
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    std::mt19937_64 rng(seed);
    // Sizes around the bitmap's 64-block words and a few odd ones.
    constexpr int64_t kSizes[] = {1, 2, 63, 64, 65, 130, 200};
    const int64_t size = kSizes[seed % std::size(kSizes)];
    FreeRunSet set(size);
    Model model{std::vector<bool>(static_cast<size_t>(size), true)};
    expect_same(set, model, "fresh pool of " + std::to_string(size));
    for (int step = 0; step < 300; ++step) {
      const int64_t first = static_cast<int64_t>(rng() % static_cast<uint64_t>(size));
      // The longest stretch from `first` that is all free (erase) or all used (insert).
      const bool state = model.free[static_cast<size_t>(first)];
      int64_t len = 0;
      while (first + len < size && model.free[static_cast<size_t>(first + len)] == state) ++len;
      const int64_t count = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(len));
      if (state && rng() % 3 == 0) {
        // take_best_fit: the blocks must come from the front of the model's best fit.
        const auto want = model.best_fit(count);
        const auto got = set.take_best_fit(count);
        ASSERT_EQ(got.has_value(), want.has_value());
        if (!got) continue;
        ASSERT_EQ(got->first, want->first);
        ASSERT_EQ(got->count, count);
        for (int64_t b = got->first; b < got->first + count; ++b) model.free[static_cast<size_t>(b)] = false;
      } else {
        if (state) {
          set.erase(first, count);
        } else {
          set.insert(first, count);
        }
        for (int64_t b = first; b < first + count; ++b) model.free[static_cast<size_t>(b)] = !state;
      }
      expect_same(set, model, "seed " + std::to_string(seed) + " step " + std::to_string(step));
      if (HasFatalFailure()) return;
    }
  }
}

TEST(FreeRunSet, TiesGoToTheLowestIdForBestFitAndTheHighestForLargest) {
  FreeRunSet set(20);
  set.erase(0, 20);
  set.insert(2, 3);   // [2, 5)
  set.insert(10, 3);  // [10, 13)
  set.insert(16, 3);  // [16, 19)
  ASSERT_TRUE(set.best_fit(2).has_value());
  EXPECT_EQ(set.best_fit(2)->first, 2);
  EXPECT_EQ(set.largest().first, 16);
  set.insert(5, 1);  // [2, 6) is now the longest and the only run of 4
  EXPECT_EQ(set.largest().first, 2);
  EXPECT_EQ(set.best_fit(4)->first, 2);
  EXPECT_EQ(set.best_fit(3)->first, 10);
  EXPECT_FALSE(set.best_fit(5).has_value());
  EXPECT_FALSE(set.take_best_fit(5).has_value());
  EXPECT_EQ(set.num_free(), 10);
  ASSERT_TRUE(set.take_best_fit(3).has_value());  // all of [10, 13): the smallest that fits
  EXPECT_FALSE(set.is_free(10));
  EXPECT_FALSE(set.is_free(12));
  EXPECT_EQ(set.num_runs(), 2);
}

TEST(FreeRunSet, MisuseIsAnInternalError) {
  FreeRunSet set(130);
  set.erase(60, 10);
  EXPECT_THROW(set.insert(59, 2), Error);   // block 59 is free
  EXPECT_THROW(set.insert(125, 10), Error);  // past the end
  EXPECT_THROW(set.erase(65, 1), Error);    // used
  EXPECT_THROW(set.erase(50, 11), Error);   // runs into used blocks
  EXPECT_THROW(set.erase(0, 0), Error);
  EXPECT_EQ(set.num_free(), 120);
  EXPECT_EQ(set.num_runs(), 2);
}

}  // namespace
}  // namespace flowkv::core
