#include "runtime/cuda/kv_pool.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "core/base/error.h"
#include "kernels/cuda_check.h"

namespace flowkv::runtime {
namespace {

void check_shape(const core::KvGeometry& g) {
  if (g.num_layers <= 0 || g.num_kv_heads <= 0 || g.head_dim <= 0 || g.block_size <= 0 ||
      g.dtype_bytes <= 0) {
    core::throw_input_error("KV pool: layers, kv heads, head dim, block size and dtype bytes must "
                            "all be positive (got " + std::to_string(g.num_layers) + ", " +
                            std::to_string(g.num_kv_heads) + ", " + std::to_string(g.head_dim) +
                            ", " + std::to_string(g.block_size) + ", " +
                            std::to_string(g.dtype_bytes) + ")");
  }
}

}  // namespace

int64_t blocks_for_memory(const core::KvGeometry& shape, int64_t free_bytes, double fraction) {
  check_shape(shape);
  if (!(fraction > 0.0 && fraction <= 1.0)) {
    core::throw_input_error("KV pool: memory fraction must be in (0, 1], got " +
                            std::to_string(fraction));
  }
  const double usable = std::floor(fraction * static_cast<double>(std::max<int64_t>(free_bytes, 0)));
  return static_cast<int64_t>(usable) / shape.block_bytes();
}

KvPool::KvPool(const core::KvGeometry& shape, const KvPoolOptions& options) {
  check_shape(shape);
  FLOWKV_CUDA_CHECK(cudaGetDevice(&device_));
  int64_t blocks = options.num_blocks;
  if (blocks < 0) core::throw_input_error("KV pool: negative block count");
  if (blocks == 0) {
    size_t free_bytes = 0;
    size_t total_bytes = 0;
    FLOWKV_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    blocks = blocks_for_memory(shape, static_cast<int64_t>(free_bytes), options.memory_fraction);
    if (blocks == 0) {
      throw core::Error(core::ErrorKind::kUnsupported,
                        "KV pool: " + std::to_string(options.memory_fraction) + " of " +
                            std::to_string(free_bytes) + " free bytes holds no block of " +
                            std::to_string(shape.block_bytes()) + " bytes");
    }
  }
  // Block ids are 32-bit (core::BlockId).
  if (blocks > int64_t{UINT32_MAX}) core::throw_input_error("KV pool: more than 2^32 blocks");
  layout_.kind = options.layout;
  layout_.geometry = shape;
  layout_.geometry.num_blocks = blocks;
  buffer_ = DeviceBuffer(layout_.geometry.pool_bytes());
  allocator_ = core::make_allocator(options.allocator, blocks);
}

std::vector<int64_t> expand_block_ids(std::span<const core::BlockRun> runs, int64_t num_blocks) {
  std::vector<int64_t> ids;
  ids.reserve(static_cast<size_t>(core::total_blocks(runs)));
  for (const core::BlockRun& r : runs) {
    const int64_t first = core::to_int(r.first);
    FLOWKV_CHECK(r.count >= 0 && first + r.count <= num_blocks,
                 "block run [" + std::to_string(first) + ", +" + std::to_string(r.count) +
                     ") outside a pool of " + std::to_string(num_blocks) + " blocks");
    for (int64_t i = 0; i < r.count; ++i) ids.push_back(first + i);
  }
  return ids;
}

}  // namespace flowkv::runtime
