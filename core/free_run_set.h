// FreeRunSet: the free blocks of a pool as maximal runs of consecutive block ids.
//
// Kept twice: ordered by first id (to find and coalesce neighbours) and ordered by
// (length, first id) (for best fit and the largest run), so every operation is O(log runs).
// The segment allocator allocates from it.
//
// Contract: insert() only takes blocks that are in the pool and not free, erase() only takes
// blocks that lie inside one free run; anything else is an internal error (FLOWKV_CHECK). Not
// thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <utility>

namespace flowkv::core {

class FreeRunSet {
 public:
  struct Run {
    int64_t first = 0;
    int64_t count = 0;
  };

  // A pool of num_blocks blocks, all free.
  explicit FreeRunSet(int64_t num_blocks);

  // Marks [first, first + count) free, merging with the free runs on either side.
  void insert(int64_t first, int64_t count);
  // Marks [first, first + count) used; it must lie inside one free run.
  void erase(int64_t first, int64_t count);

  // The smallest free run of at least n blocks (the lowest first id among equals), if any.
  std::optional<Run> best_fit(int64_t n) const;
  // The largest free run (the highest first id among equals); {0, 0} when nothing is free.
  Run largest() const;
  bool is_free(int64_t block) const;

  int64_t num_blocks() const { return num_blocks_; }
  int64_t num_free() const { return num_free_; }
  int64_t num_runs() const { return static_cast<int64_t>(by_first_.size()); }

 private:
  void add_run(int64_t first, int64_t count);
  void remove_run(std::map<int64_t, int64_t>::iterator it);

  int64_t num_blocks_ = 0;
  int64_t num_free_ = 0;
  std::map<int64_t, int64_t> by_first_;            // first id -> count
  std::set<std::pair<int64_t, int64_t>> by_size_;  // (count, first id)
};

}  // namespace flowkv::core
