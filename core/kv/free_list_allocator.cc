#include "core/kv/free_list_allocator.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <string>

#include "core/base/error.h"

namespace flowkv::core {

FreeListAllocator::FreeListAllocator(int64_t num_blocks)
    : num_blocks_(num_blocks), num_free_(num_blocks) {
  // Block ids are 32 bits wide (core/base/ids.h).
  FLOWKV_CHECK(num_blocks >= 0 && num_blocks <= int64_t{std::numeric_limits<uint32_t>::max()},
               "a pool of " + std::to_string(num_blocks) + " blocks does not fit 32-bit block ids");
  free_bits_.assign(static_cast<size_t>((num_blocks + 63) / 64), ~uint64_t{0});
  if (num_blocks % 64 != 0) free_bits_.back() = (uint64_t{1} << (num_blocks % 64)) - 1;
  for (int64_t b = 0; b < num_blocks; ++b) queue_.push_back(static_cast<uint32_t>(b));
}

bool FreeListAllocator::allocate(int64_t n, BlockList& out) {
  FLOWKV_CHECK(n >= 1, "allocate(" + std::to_string(n) + ")");
  if (n > num_free_) return false;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t block = queue_.front();
    queue_.pop_front();
    FLOWKV_CHECK(is_free(block), "block " + std::to_string(block) + " queued but not free");
    flip(block);
    append_run(out, static_cast<BlockId>(block), 1);
  }
  num_free_ -= n;
  return true;
}

void FreeListAllocator::free(std::span<const BlockRun> runs) {
  for (const BlockRun& r : runs) {
    const int64_t first = to_int(r.first);
    const std::string what =
        "blocks [" + std::to_string(first) + ", " + std::to_string(first + r.count) + ")";
    FLOWKV_CHECK(r.count >= 0 && first + r.count <= num_blocks_,
                 what + " are not inside the pool of " + std::to_string(num_blocks_));
    // The whole run is checked before anything changes.
    for (int64_t b = first; b < first + r.count; ++b) {
      FLOWKV_CHECK(!is_free(b), what + " are already (partly) free: block " + std::to_string(b));
    }
    for (int64_t b = first; b < first + r.count; ++b) {
      flip(b);
      queue_.push_back(static_cast<uint32_t>(b));
    }
    num_free_ += r.count;
  }
}

FragmentationStats FreeListAllocator::fragmentation() const {
  if (stats_valid_) return stats_;
  FragmentationStats s;
  s.free_blocks = num_free_;
  int64_t current = 0;    // free run reaching the top of the previous word
  uint64_t prev_top = 0;  // the previous word's top bit, at bit 0
  for (uint64_t w : free_bits_) {
    // A run starts where a free bit follows a used one.
    s.free_runs += std::popcount(w & ~((w << 1) | prev_top));
    prev_top = w >> 63;
    if (w == ~uint64_t{0}) {
      current += 64;
      continue;
    }
    int pos = std::countr_one(w);
    s.largest_free_run = std::max(s.largest_free_run, current + pos);
    current = 0;
    while (pos < 64) {
      const uint64_t rest = w >> pos;
      if (rest == 0) break;
      pos += std::countr_zero(rest);
      const int ones = std::countr_one(w >> pos);
      if (pos + ones == 64) {
        current = ones;  // continues into the next word
        break;
      }
      s.largest_free_run = std::max<int64_t>(s.largest_free_run, ones);
      pos += ones;
    }
  }
  s.largest_free_run = std::max(s.largest_free_run, current);
  stats_ = s;
  stats_valid_ = true;
  return s;
}

}  // namespace flowkv::core
