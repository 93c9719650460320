#include "core/kv/free_run_set.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <string>

#include "core/base/error.h"

namespace flowkv::core {
namespace {

// Bits [lo, hi) of a word, 0 <= lo < hi <= 64.
uint64_t bit_range(int64_t lo, int64_t hi) {
  const uint64_t upto_hi = hi == 64 ? ~uint64_t{0} : (uint64_t{1} << hi) - 1;
  return upto_hi & ~((uint64_t{1} << lo) - 1);
}

// The end of the prefix of a descending range whose keys are >= k (std::partition_point), without
// the data-dependent branch: the keys searched for are close to random, so a branchy search
// mispredicts about every other step.
template <typename It>
It end_of_at_least(It first, It last, uint64_t k) {
  auto len = last - first;
  while (len > 1) {
    const auto half = len / 2;
    // A multiply, not a ternary: g++ turns the ternary back into a branch.
    first += half * static_cast<decltype(half)>(first[half - 1] >= k);
    len -= half;
  }
  return len == 1 && *first >= k ? first + 1 : first;
}

}  // namespace

FreeRunSet::FreeRunSet(int64_t num_blocks) : num_blocks_(num_blocks) {
  // Block ids are 32 bits wide (core/base/ids.h).
  FLOWKV_CHECK(num_blocks >= 0 && num_blocks <= int64_t{std::numeric_limits<uint32_t>::max()},
               "a pool of " + std::to_string(num_blocks) + " blocks does not fit 32-bit block ids");
  free_bits_.assign(static_cast<size_t>((num_blocks + 63) / 64), 0);
  tags_.assign(static_cast<size_t>(num_blocks), 0);
  if (num_blocks > 0) {
    set_bits(0, num_blocks, true);
    tag(0, num_blocks);
    by_size_.push_back(key(0, num_blocks));
    num_free_ = num_blocks;
  }
}

void FreeRunSet::tag(int64_t first, int64_t count) {
  tags_[static_cast<size_t>(first)] = static_cast<uint32_t>(count);
  tags_[static_cast<size_t>(first + count - 1)] = static_cast<uint32_t>(count);
}

void FreeRunSet::set_bits(int64_t first, int64_t count, bool free) {
  for (int64_t b = first; b < first + count;) {
    const int64_t word = b >> 6;
    const int64_t hi = std::min<int64_t>(64, first + count - (word << 6));
    const uint64_t mask = bit_range(b & 63, hi);
    if (free) {
      free_bits_[static_cast<size_t>(word)] |= mask;
    } else {
      free_bits_[static_cast<size_t>(word)] &= ~mask;
    }
    b = (word + 1) << 6;
  }
}

bool FreeRunSet::any_free(int64_t first, int64_t count) const {
  for (int64_t b = first; b < first + count;) {
    const int64_t word = b >> 6;
    const int64_t hi = std::min<int64_t>(64, first + count - (word << 6));
    if ((free_bits_[static_cast<size_t>(word)] & bit_range(b & 63, hi)) != 0) return true;
    b = (word + 1) << 6;
  }
  return false;
}

int64_t FreeRunSet::run_start(int64_t block) const {
  int64_t word = block >> 6;
  // Used blocks at or below `block` in its word; then whole words further down.
  uint64_t used = ~free_bits_[static_cast<size_t>(word)] & bit_range(0, (block & 63) + 1);
  while (used == 0) {
    if (--word < 0) return 0;
    used = ~free_bits_[static_cast<size_t>(word)];
  }
  return (word << 6) + (63 - std::countl_zero(used)) + 1;
}

void FreeRunSet::rekey(uint64_t from, uint64_t to) {
  if (from == 0) {
    by_size_.insert(end_of_at_least(by_size_.begin(), by_size_.end(), to), to);
    return;
  }
  // Keys are unique: `from` is the last key >= from.
  const auto end = end_of_at_least(by_size_.begin(), by_size_.end(), from);
  FLOWKV_CHECK(end != by_size_.begin() && *(end - 1) == from, "free run index out of sync");
  rekey_at(end - 1, to);
}

void FreeRunSet::rekey_at(std::vector<uint64_t>::iterator at, uint64_t to) {
  const uint64_t from = *at;
  if (to == 0) {
    by_size_.erase(at);
  } else if (to < from) {
    // Toward the back: shift the keys in (at, dest) that are above `to` forward by one.
    const auto dest = end_of_at_least(at + 1, by_size_.end(), to);
    std::move(at + 1, dest, at);
    *(dest - 1) = to;
  } else {
    // Toward the front: shift the keys in [dest, at) that are below `to` back by one.
    const auto dest = end_of_at_least(by_size_.begin(), at, to);
    std::move_backward(dest, at, at + 1);
    *dest = to;
  }
}

void FreeRunSet::insert(int64_t first, int64_t count) {
  // Built only when a check fails: this runs on every free, in the simulator's hot path.
  auto what = [&] { return "blocks [" + std::to_string(first) + ", " + std::to_string(first + count) + ")"; };
  FLOWKV_CHECK(count > 0 && first >= 0 && first + count <= num_blocks_,
               what() + " are not inside the pool of " + std::to_string(num_blocks_));
  FLOWKV_CHECK(!any_free(first, count), what() + " are already (partly) free");
  set_bits(first, count, true);
  num_free_ += count;
  int64_t new_first = first;
  int64_t new_count = count;
  uint64_t prev_key = 0, next_key = 0;
  // A free block just before is the last of a free run, one just after the first of one.
  if (first > 0 && is_free(first - 1)) {
    const int64_t prev_count = tags_[static_cast<size_t>(first - 1)];
    new_first = first - prev_count;
    new_count += prev_count;
    prev_key = key(new_first, prev_count);
  }
  if (is_free(first + count)) {
    const int64_t next_count = tags_[static_cast<size_t>(first + count)];
    new_count += next_count;
    next_key = key(first + count, next_count);
  }
  tag(new_first, new_count);
  const uint64_t merged = key(new_first, new_count);
  if (prev_key != 0 && next_key != 0) {
    rekey(next_key, 0);
    rekey(prev_key, merged);
  } else {
    rekey(prev_key != 0 ? prev_key : next_key, merged);
  }
}

void FreeRunSet::erase(int64_t first, int64_t count) {
  auto what = [&] {
    return "blocks [" + std::to_string(first) + ", " + std::to_string(first + count) + ") are not all free";
  };
  FLOWKV_CHECK(count > 0, "erasing " + std::to_string(count) + " blocks");
  FLOWKV_CHECK(is_free(first), "block " + std::to_string(first) + " is not free");
  const bool starts_run = first == 0 || !is_free(first - 1);  // the allocator's usual case
  const int64_t run_first = starts_run ? first : run_start(first);
  const int64_t run_count = tags_[static_cast<size_t>(run_first)];
  const int64_t run_end = run_first + run_count;
  FLOWKV_CHECK(first + count <= run_end, what());
  set_bits(first, count, false);
  num_free_ -= count;
  const uint64_t old_key = key(run_first, run_count);
  uint64_t left = 0, right = 0;
  if (run_first < first) {
    tag(run_first, first - run_first);
    left = key(run_first, first - run_first);
  }
  if (first + count < run_end) {
    tag(first + count, run_end - (first + count));
    right = key(first + count, run_end - (first + count));
  }
  rekey(old_key, left != 0 ? left : right);
  if (left != 0 && right != 0) rekey(0, right);
}

std::optional<FreeRunSet::Run> FreeRunSet::take_best_fit(int64_t n) {
  FLOWKV_CHECK(n > 0, "taking " + std::to_string(n) + " blocks");
  // Every run holds at least one block, so the best fit for one (each decode block grown) is
  // the smallest key, the last: no search, and taking or shrinking it moves nothing.
  const auto end = n == 1 ? by_size_.end() : end_of_at_least(by_size_.begin(), by_size_.end(), key(0, n));
  if (end == by_size_.begin()) return std::nullopt;
  const auto at = end - 1;
  const int64_t first = static_cast<int64_t>(*at & 0xffffffffULL);
  const int64_t count = static_cast<int64_t>(*at >> 32);
  set_bits(first, n, false);
  num_free_ -= n;
  uint64_t rest = 0;
  if (count > n) {
    tag(first + n, count - n);
    rest = key(first + n, count - n);
  }
  rekey_at(at, rest);
  return Run{first, n};
}

std::optional<FreeRunSet::Run> FreeRunSet::best_fit(int64_t n) const {
  const auto end = end_of_at_least(by_size_.begin(), by_size_.end(), key(0, n));
  if (end == by_size_.begin()) return std::nullopt;
  const uint64_t k = *(end - 1);
  return Run{static_cast<int64_t>(k & 0xffffffffULL), static_cast<int64_t>(k >> 32)};
}

FreeRunSet::Run FreeRunSet::largest() const {
  if (by_size_.empty()) return Run{};
  const uint64_t k = by_size_.front();
  return Run{static_cast<int64_t>(k & 0xffffffffULL), static_cast<int64_t>(k >> 32)};
}

}  // namespace flowkv::core
