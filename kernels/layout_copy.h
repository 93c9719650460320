// Block copies between KV pools of possibly different layouts, and the gather / scatter of a
// request's blocks through a contiguous staging buffer (the vLLM-disagg transfer path).
//
// A block's KV is kv_parts * num_layers chunks (layer, K|V, or MLA's one latent), each
// chunk_bytes() contiguous bytes in every layout (core/kv/kv_layout.h). copy_blocks() moves, for
// every i < n, every chunk of block src_ids[i] of the source pool to the same chunk of block dst_ids[i] of the
// destination pool, addressing both with core::KvLayout::chunk_offset, the function the
// simulator counts with.
//
// The staging buffer of n blocks is laid out as a paged-per-layer pool of exactly n blocks:
//     // [num_layers][kv_parts][n][block_size][num_kv_heads][head_dim]
// so each layer's K and V of the request are one contiguous piece of kv_parts * n chunks: the
// per-layer path sends it with one call per layer.
//
// Contract: both layouts have the same geometry apart from num_blocks (checked; kInvalidInput
// otherwise), chunk_bytes() is a multiple of 16 (kUnsupported otherwise); ids are device arrays
// of n int64 block ids (nullptr means 0, 1, ..., n-1), each < its pool's num_blocks (not
// checked on the device: callers validate ids when they build them); destination chunks must
// not overlap source chunks. Only enqueues work on `stream`.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/kv/kv_layout.h"

namespace flowkv::kernels {

void copy_blocks(const core::KvLayout& src_layout, const void* src, const int64_t* src_ids,
                 const core::KvLayout& dst_layout, void* dst, const int64_t* dst_ids, int64_t n,
                 cudaStream_t stream);

// The layout of a staging buffer for n blocks of geometry g (see above).
core::KvLayout staging_layout(const core::KvGeometry& g, int64_t n);

// Pool -> staging: block pool_ids[i] becomes staging block i.
void gather_blocks(const core::KvLayout& pool_layout, const void* pool, const int64_t* pool_ids,
                   int64_t n, void* staging, cudaStream_t stream);
// Staging -> pool: staging block i becomes block pool_ids[i].
void scatter_blocks(const void* staging, const core::KvLayout& pool_layout, void* pool,
                    const int64_t* pool_ids, int64_t n, cudaStream_t stream);

}  // namespace flowkv::kernels
