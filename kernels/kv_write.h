// Writes the K and V of an iteration's new tokens into a KV pool, in either layout: token t's K
// (its qkv columns [num_heads, num_heads + num_kv_heads) x head_dim) goes to the chunk
// (layer, K, token_blocks[t]) at slot positions[t] % block_size, its V to (layer, V, ...), each
// chunk addressed with core::KvLayout::chunk_offset on the device, the function the simulator
// counts with. A chunk is // [block_size][num_kv_heads][head_dim] bf16.
//
// Contract: layout.geometry.dtype_bytes == 2 and head_dim % 8 == 0 (kUnsupported otherwise);
// block ids < num_blocks (validated on the host by the caller); only enqueues work.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "core/kv/kv_layout.h"

namespace flowkv::kernels {

void write_kv(const __nv_bfloat16* qkv,     // [num_tokens][(num_heads + 2 num_kv_heads) head_dim]
              int64_t num_tokens, int32_t num_heads,
              const int32_t* positions,     // [num_tokens]
              const int64_t* token_blocks,  // [num_tokens] block holding each token's position
              const core::KvLayout& layout, int32_t layer,
              std::byte* pool,              // laid out by `layout`
              cudaStream_t stream);

}  // namespace flowkv::kernels
