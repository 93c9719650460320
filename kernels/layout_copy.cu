#include "kernels/layout_copy.h"

#include <string>

#include "core/base/error.h"
#include "kernels/cuda_check.h"
#include "kernels/launch_config.h"
#include "kernels/tile_copy.cuh"

namespace flowkv::kernels {
namespace {

using detail::kCopyThreads;
using detail::kCopyTileBytes;
using detail::kCopyVecs;

// Work item w = (chunk c, tile k) with c = (layer * kv_parts + kv) * n + i, so consecutive blocks
// of the grid walk one (layer, part) of all n blocks: the staging side is written sequentially.
template <int kThreads, int kVecs, bool kStreaming>
__global__ void __launch_bounds__(kThreads)
    CopyBlocksKernel(core::KvLayout src_layout, const char* __restrict__ src,
                     const int64_t* __restrict__ src_ids, core::KvLayout dst_layout,
                     char* __restrict__ dst, const int64_t* __restrict__ dst_ids, int64_t n,
                     int64_t tiles_per_chunk) {
  constexpr int64_t kTile = int64_t{kThreads} * kVecs * 16;
  const int64_t chunk_bytes = src_layout.geometry.chunk_bytes();
  const int64_t parts = src_layout.geometry.kv_parts;
  const int64_t total = n * src_layout.geometry.chunks_per_block() * tiles_per_chunk;
  int64_t begin = 0;
  int64_t end = 0;
  detail::block_range(total, begin, end);
  for (int64_t w = begin; w < end; ++w) {
    const int64_t c = w / tiles_per_chunk;
    const int64_t offset = (w - c * tiles_per_chunk) * kTile;
    const int64_t i = c % n;
    const int64_t layer_kv = c / n;
    const int32_t layer = static_cast<int32_t>(layer_kv / parts);
    const int32_t kv = static_cast<int32_t>(layer_kv % parts);
    const int64_t sb = src_ids ? src_ids[i] : i;
    const int64_t db = dst_ids ? dst_ids[i] : i;
    const int64_t remaining = chunk_bytes - offset;
    detail::copy_tile<kThreads, kVecs, kStreaming>(src + src_layout.chunk_offset(layer, kv, sb) + offset,
                                       dst + dst_layout.chunk_offset(layer, kv, db) + offset,
                                       remaining < kTile ? remaining : kTile);
  }
}

bool same_shape(const core::KvGeometry& a, const core::KvGeometry& b) {
  return a.num_layers == b.num_layers && a.num_kv_heads == b.num_kv_heads &&
         a.head_dim == b.head_dim && a.block_size == b.block_size && a.dtype_bytes == b.dtype_bytes &&
         a.kv_parts == b.kv_parts;
}

}  // namespace

void copy_blocks(const core::KvLayout& src_layout, const void* src, const int64_t* src_ids,
                 const core::KvLayout& dst_layout, void* dst, const int64_t* dst_ids, int64_t n,
                 cudaStream_t stream) {
  const core::KvGeometry& g = src_layout.geometry;
  if (!same_shape(g, dst_layout.geometry)) {
    core::throw_input_error("copy_blocks: source and destination pools have different KV shapes");
  }
  if (n < 0 || g.num_layers <= 0 || g.chunk_bytes() <= 0 || g.kv_parts < 1 || g.kv_parts > 2) {
    core::throw_input_error("copy_blocks: need n >= 0 and a non-empty geometry");
  }
  if (g.chunk_bytes() % 16 != 0) {
    throw core::Error(core::ErrorKind::kUnsupported,
                      "copy_blocks: chunk of " + std::to_string(g.chunk_bytes()) +
                          " bytes is not a multiple of 16 (block_size * kv_heads * head_dim * "
                          "dtype_bytes must be)");
  }
  if (n == 0) return;
  const int64_t tiles_per_chunk = (g.chunk_bytes() + kCopyTileBytes - 1) / kCopyTileBytes;
  const int64_t total = n * g.chunks_per_block() * tiles_per_chunk;
  const auto kernel = CopyBlocksKernel<kCopyThreads, kCopyVecs, detail::kCopyStreaming>;
  const int grid = persistent_grid(reinterpret_cast<const void*>(kernel), kCopyThreads, total);
  kernel<<<grid, kCopyThreads, 0, stream>>>(
      src_layout, static_cast<const char*>(src), src_ids, dst_layout, static_cast<char*>(dst),
      dst_ids, n, tiles_per_chunk);
  FLOWKV_CUDA_CHECK_LAUNCH();
}

core::KvLayout staging_layout(const core::KvGeometry& g, int64_t n) {
  core::KvLayout layout;
  layout.kind = core::LayoutKind::kPagedPerLayer;
  layout.geometry = g;
  layout.geometry.num_blocks = n;
  return layout;
}

void gather_blocks(const core::KvLayout& pool_layout, const void* pool, const int64_t* pool_ids,
                   int64_t n, void* staging, cudaStream_t stream) {
  copy_blocks(pool_layout, pool, pool_ids, staging_layout(pool_layout.geometry, n), staging,
              nullptr, n, stream);
}

void scatter_blocks(const void* staging, const core::KvLayout& pool_layout, void* pool,
                    const int64_t* pool_ids, int64_t n, cudaStream_t stream) {
  copy_blocks(staging_layout(pool_layout.geometry, n), staging, nullptr, pool_layout, pool,
              pool_ids, n, stream);
}

}  // namespace flowkv::kernels
