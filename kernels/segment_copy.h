// Fused multi-segment copy: moves every segment of a transfer plan (core::Copy: src offset,
// dst offset, bytes) between two device buffers in ONE kernel launch, instead of one
// cudaMemcpyAsync per segment. This is what makes a fragmented block-contiguous transfer (tens
// or hundreds of segments) or even the per-block paged pattern (2 * layers * blocks segments)
// cost one launch on one GPU.
//
// Contract:
//  - offsets and sizes are multiples of kCopyAlignment (16 bytes) and the base pointers are
//    16-byte aligned (cudaMalloc gives 256); build_segment_table() checks the former and
//    throws core::Error(kUnsupported) naming the first offending copy;
//  - destination ranges must not overlap each other, nor the source ranges (no memmove);
//  - segment_copy() only enqueues work on `stream`; the table's device memory must stay valid
//    until that work completes. Launch failures throw core::Error(kRuntime).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <span>
#include <vector>

#include "core/kv/transfer_plan.h"

namespace flowkv::kernels {

inline constexpr int64_t kCopyAlignment = 16;

// One row of the device-side table: a planned copy and the index of its first tile, so that a
// thread block finds the row that holds any tile by binary search.
struct SegmentRow {
  int64_t src_offset = 0;
  int64_t dst_offset = 0;
  int64_t bytes = 0;
  int64_t first_tile = 0;
};

struct SegmentTable {
  std::vector<SegmentRow> rows;  // zero-byte copies are dropped
  int64_t num_tiles = 0;
  int64_t bytes = 0;             // sum of the rows' bytes
};

SegmentTable build_segment_table(std::span<const core::Copy> copies);

// A table uploaded to device memory.
struct DeviceSegmentTable {
  const SegmentRow* rows = nullptr;  // [num_rows], device memory
  int64_t num_rows = 0;
  int64_t num_tiles = 0;
};

// Enqueues dst[row.dst_offset + k] = src[row.src_offset + k] for every row on `stream`.
// src and dst are device pointers (they may be the same allocation). No launch when the table
// is empty.
void segment_copy(const DeviceSegmentTable& table, const void* src, void* dst,
                  cudaStream_t stream);

// Loads segment_copy's kernel now. CUDA loads kernels lazily, at their first use, and loading
// waits for the device to go idle: call this before enqueueing work that segment_copy must not
// wait behind (runtime::DeviceCopyTransport does, when it is built).
void segment_copy_preload();

// Tile size of segment_copy (bytes one thread block moves per step); exposed for tests that
// want segments straddling tile boundaries.
int64_t segment_copy_tile_bytes();

}  // namespace flowkv::kernels
