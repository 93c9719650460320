// The fused multi-segment copy kernel (internal to kernels/): included by segment_copy.cu and by
// the kernel benchmark that compares its tile shapes (bench/cuda/).
#pragma once

#include <cstdint>

#include "kernels/segment_copy.h"
#include "kernels/tile_copy.cuh"

namespace flowkv::kernels::detail {

// The last row in [lo, num_rows) whose first tile is <= t (rows sorted by first_tile).
__device__ __forceinline__ int64_t find_row(const SegmentRow* __restrict__ rows, int64_t lo,
                                            int64_t num_rows, int64_t t) {
  int64_t hi = num_rows - 1;
  while (lo < hi) {
    const int64_t mid = (lo + hi + 1) / 2;
    if (rows[mid].first_tile <= t) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

// rows: [num_rows] sorted by first_tile; src/dst: byte buffers the offsets index.
// kInterleaved: block b copies tiles b, b + grid, b + 2 * grid, ... (the blocks in flight
// touch one window of memory) instead of one contiguous range per block.
template <int kThreads, int kVecs, bool kStreaming, bool kInterleaved = false>
__global__ void __launch_bounds__(kThreads)
    SegmentCopyKernel(const SegmentRow* __restrict__ rows, int64_t num_rows, int64_t num_tiles,
                      const char* __restrict__ src, char* __restrict__ dst) {
  constexpr int64_t kTile = int64_t{kThreads} * kVecs * 16;
  if constexpr (kInterleaved) {
    int64_t r = 0;
    for (int64_t t = blockIdx.x; t < num_tiles; t += gridDim.x) {
      r = find_row(rows, r, num_rows, t);
      const SegmentRow row = rows[r];
      const int64_t offset = (t - row.first_tile) * kTile;
      const int64_t remaining = row.bytes - offset;
      copy_tile<kThreads, kVecs, kStreaming>(src + row.src_offset + offset,
                                             dst + row.dst_offset + offset,
                                             remaining < kTile ? remaining : kTile);
    }
    return;
  }
  int64_t begin = 0;
  int64_t end = 0;
  block_range(num_tiles, begin, end);
  if (begin >= end) return;
  // Every thread of the block finds the same row.
  int64_t r = find_row(rows, 0, num_rows, begin);
  SegmentRow row = rows[r];
  int64_t row_end = r + 1 < num_rows ? rows[r + 1].first_tile : num_tiles;
  for (int64_t t = begin; t < end; ++t) {
    while (t >= row_end) {
      ++r;
      row = rows[r];
      row_end = r + 1 < num_rows ? rows[r + 1].first_tile : num_tiles;
    }
    const int64_t offset = (t - row.first_tile) * kTile;
    const int64_t remaining = row.bytes - offset;
    copy_tile<kThreads, kVecs, kStreaming>(src + row.src_offset + offset, dst + row.dst_offset + offset,
                                       remaining < kTile ? remaining : kTile);
  }
}

}  // namespace flowkv::kernels::detail
