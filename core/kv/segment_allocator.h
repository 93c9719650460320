// SegmentAllocator (FlowKV): hands out runs of consecutive block ids so that a request's KV
// is a few large contiguous pieces.
//
// allocate(n) takes the smallest free run that holds all n blocks (best fit); when no single
// run does but enough blocks are free, it takes the largest runs first and finishes with a best
// fit for the rest, so the request spans as few runs as possible. free() coalesces with both
// neighbours. O(k log runs) per call, k = runs handed out or given back. Contract as in
// block_allocator.h.
#pragma once

#include <cstdint>
#include <span>

#include "core/kv/block_allocator.h"
#include "core/kv/free_run_set.h"

namespace flowkv::core {

class SegmentAllocator final : public BlockAllocator {
 public:
  explicit SegmentAllocator(int64_t num_blocks);

  bool allocate(int64_t n, BlockList& out) override;
  void free(std::span<const BlockRun> runs) override;
  int64_t num_blocks() const override { return free_.num_blocks(); }
  int64_t num_free() const override { return free_.num_free(); }
  FragmentationStats fragmentation() const override;
  AllocatorKind kind() const override { return AllocatorKind::kSegment; }

 private:
  FreeRunSet free_;
};

}  // namespace flowkv::core
