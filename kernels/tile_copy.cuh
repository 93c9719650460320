// Device helpers shared by the copy kernels (internal to kernels/, included by .cu files only).
//
// Every copy kernel here moves "tiles": kThreads threads x kVecs 16-byte vectors. A tile's
// loads are all issued before its first store, so each thread keeps kVecs loads in flight;
// thread i touches vectors i, i + kThreads, ..., so every warp access is one coalesced 512-byte
// transaction. Grids are persistent (about as many blocks as fit on the device at once), and
// each block walks a contiguous range of tiles: a launch costs the same for one 1 GiB segment
// as for 40,000 segments of 32 KiB.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace flowkv::kernels::detail {

// 256 threads x 8 vectors (a 32 KiB tile), contiguous tile ranges, plain loads and stores:
// bench/cuda/copy_kernel_bench.cu on the H100 put every shape tried within 2% of each other
// (about 1.39-1.41 TB/s one-way, 93-95% of cudaMemcpyAsync); this one was never the slowest.
inline constexpr int kCopyThreads = 256;
inline constexpr int kCopyVecs = 8;
inline constexpr int64_t kCopyTileBytes = int64_t{kCopyThreads} * kCopyVecs * 16;  // 32 KiB
// Evict-first loads and stores (see load16): 0.5-2% slower on the H100, so off.
inline constexpr bool kCopyStreaming = false;

// 16-byte load and store; kStreaming marks them evict-first (ld/st.global.cs): a transfer
// reads and writes each byte once, so keeping it in L2 only evicts data that is reused.
template <bool kStreaming>
__device__ __forceinline__ uint4 load16(const uint4* p) {
  if constexpr (kStreaming) {
    return __ldcs(p);
  } else {
    return *p;
  }
}
template <bool kStreaming>
__device__ __forceinline__ void store16(uint4* p, const uint4& v) {
  if constexpr (kStreaming) {
    __stcs(p, v);
  } else {
    *p = v;
  }
}

// Copies `bytes` (a multiple of 16, at most one tile) from src to dst; both 16-byte aligned.
// Called by all kThreads threads of the block with the same arguments.
template <int kThreads, int kVecs, bool kStreaming = false>
__device__ __forceinline__ void copy_tile(const char* __restrict__ src, char* __restrict__ dst,
                                          int64_t bytes) {
  const int num_vecs = static_cast<int>(bytes >> 4);
  const uint4* __restrict__ s = reinterpret_cast<const uint4*>(src);
  uint4* __restrict__ d = reinterpret_cast<uint4*>(dst);
  uint4 v[kVecs];
  if (num_vecs == kThreads * kVecs) {
#pragma unroll
    for (int k = 0; k < kVecs; ++k) v[k] = load16<kStreaming>(s + threadIdx.x + k * kThreads);
#pragma unroll
    for (int k = 0; k < kVecs; ++k) store16<kStreaming>(d + threadIdx.x + k * kThreads, v[k]);
    return;
  }
#pragma unroll
  for (int k = 0; k < kVecs; ++k) {
    const int i = threadIdx.x + k * kThreads;
    if (i < num_vecs) v[k] = load16<kStreaming>(s + i);
  }
#pragma unroll
  for (int k = 0; k < kVecs; ++k) {
    const int i = threadIdx.x + k * kThreads;
    if (i < num_vecs) store16<kStreaming>(d + i, v[k]);
  }
}

// The contiguous range of work items [begin, end) of this block when `total` items are split
// evenly over the grid.
__device__ __forceinline__ void block_range(int64_t total, int64_t& begin, int64_t& end) {
  begin = total * blockIdx.x / gridDim.x;
  end = total * (blockIdx.x + 1) / gridDim.x;
}

}  // namespace flowkv::kernels::detail
