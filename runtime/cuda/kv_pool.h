// KvPool: one rank's KV cache: ONE device allocation laid out by a core::KvLayout, and the
// core block allocator that hands out its block ids.
//
// The pool is sized either by an explicit block count or from a fraction of the device's free
// memory at construction (blocks = floor(fraction * free / block_bytes)). Its bytes are
// addressed only through layout(): kernels, transfer plans and the simulator share the
// offsets. Construction fails with core::Error: kInvalidInput for a bad geometry or fraction,
// kUnsupported when not even one block fits, kRuntime when cudaMalloc fails. Not thread-safe
// (the allocator belongs to one control loop); the memory belongs to the device current at
// construction.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/kv/block_allocator.h"
#include "core/kv/kv_layout.h"
#include "runtime/cuda/cuda_handles.h"

namespace flowkv::runtime {

struct KvPoolOptions {
  core::LayoutKind layout = core::LayoutKind::kBlockContiguous;
  core::AllocatorKind allocator = core::AllocatorKind::kSegment;
  int64_t num_blocks = 0;        // explicit size; 0: sized from memory_fraction
  double memory_fraction = 0.9;  // of the free device memory, in (0, 1], when num_blocks == 0
};

// Blocks of `shape` that fit in fraction * free_bytes (pure; shape.num_blocks is ignored).
int64_t blocks_for_memory(const core::KvGeometry& shape, int64_t free_bytes, double fraction);

class KvPool {
 public:
  // shape: the per-block geometry; its num_blocks is replaced by the pool's size.
  KvPool(const core::KvGeometry& shape, const KvPoolOptions& options);

  const core::KvLayout& layout() const { return layout_; }
  int64_t num_blocks() const { return layout_.geometry.num_blocks; }
  int64_t bytes() const { return buffer_.bytes(); }
  // // [pool_bytes] laid out by layout(); see core/kv/kv_layout.h for the shape of each kind.
  std::byte* data() { return buffer_.data(); }
  const std::byte* data() const { return buffer_.data(); }
  core::BlockAllocator& allocator() { return *allocator_; }
  int device() const { return device_; }

 private:
  core::KvLayout layout_;
  DeviceBuffer buffer_;
  std::unique_ptr<core::BlockAllocator> allocator_;
  int device_ = 0;
};

// The block ids of `runs`, in request order, as int64 (what the layout kernels take). Throws
// an internal error when a run leaves [0, num_blocks): ids are validated here, on the host,
// because the kernels cannot report an out-of-range id.
std::vector<int64_t> expand_block_ids(std::span<const core::BlockRun> runs, int64_t num_blocks);

}  // namespace flowkv::runtime
