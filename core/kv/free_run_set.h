// FreeRunSet: the free blocks of a pool as maximal runs of consecutive block ids.
//
// Flat arrays, no tree nodes (this is in the simulator's hot path: every decode block grown and
// every request freed):
//   - a bitmap of free blocks (is_free, validation, finding the run around a block);
//   - boundary tags: the length of each free run stored at its first and its last block, so
//     insert() finds and coalesces both neighbours in O(1);
//   - the runs as a vector of (length, first id) keys sorted largest first, for best fit and the
//     largest run. A run that changes length moves only past the runs whose keys lie between its
//     old and new key, so the common updates (a run shrinks by a few blocks, a freed run merges)
//     are short moves in a vector of a few hundred entries at most in practice; the worst case is
//     O(runs). Largest first puts the smallest run, where every one-block decode growth takes
//     from, at the back: taking it whole or shrinking it moves nothing.
//
// Contract: insert() only takes blocks that are in the pool and not free, erase() only takes
// blocks that lie inside one free run; anything else is an internal error (FLOWKV_CHECK). Not
// thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

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

  // best_fit(n) and then erase() of its first n blocks, with one search: the allocator's common
  // case. Returns the blocks taken, or nullopt (nothing changed) when no run holds n blocks.
  std::optional<Run> take_best_fit(int64_t n);
  // The smallest free run of at least n blocks (the lowest first id among equals), if any.
  std::optional<Run> best_fit(int64_t n) const;
  // The largest free run (the highest first id among equals); {0, 0} when nothing is free.
  Run largest() const;
  bool is_free(int64_t block) const {
    return block >= 0 && block < num_blocks_ && ((free_bits_[block >> 6] >> (block & 63)) & 1) != 0;
  }

  int64_t num_blocks() const { return num_blocks_; }
  int64_t num_free() const { return num_free_; }
  int64_t num_runs() const { return static_cast<int64_t>(by_size_.size()); }

 private:
  // (count, first) packed so that integer order is the order of the pair.
  static uint64_t key(int64_t first, int64_t count) {
    return (static_cast<uint64_t>(count) << 32) | static_cast<uint64_t>(first);
  }
  void tag(int64_t first, int64_t count);
  void set_bits(int64_t first, int64_t count, bool free);
  bool any_free(int64_t first, int64_t count) const;
  int64_t run_start(int64_t block) const;  // first id of the free run holding a free block
  // Replaces the run keyed `from` by `to` in by_size_ (either may be 0: none).
  void rekey(uint64_t from, uint64_t to);
  void rekey_at(std::vector<uint64_t>::iterator at, uint64_t to);

  int64_t num_blocks_ = 0;
  int64_t num_free_ = 0;
  std::vector<uint64_t> free_bits_;  // bit b set = block b is free
  // For a free run [f, f + c): tags_[f] = tags_[f + c - 1] = c. Other entries are stale.
  std::vector<uint32_t> tags_;
  std::vector<uint64_t> by_size_;    // key(first, count) of every free run, descending
};

}  // namespace flowkv::core
