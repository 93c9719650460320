// FreeListAllocator: the vLLM-like baseline. Free blocks wait in a FIFO queue that starts as
// 0, 1, ..., N-1; allocate pops from the front and free pushes to the back, so after some
// churn a request's blocks are scattered over the pool the way they are in vLLM's block pool.
//
// It still returns BlockRuns (consecutive ids it happens to hand out are merged). O(1) per
// block, like vLLM's; a bitmap of free blocks catches double frees, and fragmentation() scans
// it (O(num_blocks / 64)) the first time it is asked after a change. Contract as in
// block_allocator.h.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <vector>

#include "core/kv/block_allocator.h"

namespace flowkv::core {

class FreeListAllocator final : public BlockAllocator {
 public:
  explicit FreeListAllocator(int64_t num_blocks);

  bool allocate(int64_t n, BlockList& out) override;
  void free(std::span<const BlockRun> runs) override;
  int64_t num_blocks() const override { return num_blocks_; }
  int64_t num_free() const override { return num_free_; }
  FragmentationStats fragmentation() const override;
  AllocatorKind kind() const override { return AllocatorKind::kFreeList; }

 private:
  bool is_free(int64_t block) const { return (free_bits_[block >> 6] >> (block & 63)) & 1; }
  void flip(int64_t block) {
    free_bits_[block >> 6] ^= uint64_t{1} << (block & 63);
    stats_valid_ = false;
  }

  int64_t num_blocks_ = 0;
  int64_t num_free_ = 0;
  std::deque<uint32_t> queue_;        // free block ids, in the order they will be handed out
  std::vector<uint64_t> free_bits_;   // bit b set = block b is free
  mutable FragmentationStats stats_;  // cache of fragmentation(), valid until the next change
  mutable bool stats_valid_ = false;
};

}  // namespace flowkv::core
