// KvLayout: a pure description of where each byte of a KV pool lives.
//
// A pool holds num_blocks blocks of block_size tokens. For each (layer, part, block) there is
// one "chunk" of block_size * num_kv_heads * head_dim elements, contiguous in every layout. The
// parts are K and V (kv_parts = 2), or one latent per token (kv_parts = 1: multi-head latent
// attention, with num_kv_heads = 1 and head_dim = kv_lora_rank + qk_rope_head_dim).
// The layouts differ in how chunks are ordered inside the pool's one allocation:
//
//   kPagedPerLayer   (vLLM): one tensor per layer, the tensors back to back:
//                    // [num_layers][kv_parts][num_blocks][block_size][num_kv_heads][head_dim]
//                    A block's KV is kv_parts * num_layers chunks, num_blocks chunks apart.
//   kBlockContiguous (FlowKV):
//                    // [num_blocks][num_layers][kv_parts][block_size][num_kv_heads][head_dim]
//                    A block's KV is one contiguous piece of kv_parts * num_layers chunks, and
//                    consecutive block ids are consecutive bytes.
//
// Sliding-window layers (window_layers > 0): a request keeps every full-attention layer's chunk
// of each of its token blocks, but a windowed layer's chunks of its last
// window_token_blocks() token blocks only. Those chunks are packed into the request's blocks,
// kv_parts * num_layers chunk slots each, so a request of t tokens holds blocks_for_tokens(t)
// blocks (fewer than t / block_size once t passes the window). The pool, the allocators and the
// transfer plans see only block counts; which chunk sits in which slot is the request's own
// business (docs/kv.md, "Windowed layers").
//
// Everything here is usable from host and device code: kernels compute offsets with the same
// functions the simulator uses to count bytes and calls. No allocation, no state.
#pragma once

#include <cstdint>

#include "core/base/host_device.h"

namespace flowkv::core {

enum class LayoutKind : int32_t { kPagedPerLayer = 0, kBlockContiguous = 1 };

struct KvGeometry {
  int32_t num_layers = 0;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;
  int32_t block_size = 16;   // tokens per block
  int32_t dtype_bytes = 2;   // bf16 / fp16; 1 for an fp8 cache
  int64_t num_blocks = 0;    // blocks in the pool
  // The defaults below are the K/V-split, full-attention cache.
  int32_t kv_parts = 2;       // 2: K and V; 1: one latent per token and layer (MLA)
  int32_t window_layers = 0;  // of num_layers, those that keep only their last window_tokens
  int32_t window_tokens = 0;

  FLOWKV_HOST_DEVICE constexpr int64_t token_bytes_per_layer_kv() const {
    return int64_t{num_kv_heads} * head_dim * dtype_bytes;
  }
  // One (layer, part, block) piece.
  FLOWKV_HOST_DEVICE constexpr int64_t chunk_bytes() const {
    return token_bytes_per_layer_kv() * block_size;
  }
  // Chunks of one block: every layer's parts.
  FLOWKV_HOST_DEVICE constexpr int64_t chunks_per_block() const {
    return int64_t{kv_parts} * num_layers;
  }
  // All layers' parts of one block.
  FLOWKV_HOST_DEVICE constexpr int64_t block_bytes() const {
    return chunk_bytes() * chunks_per_block();
  }
  FLOWKV_HOST_DEVICE constexpr int64_t pool_bytes() const { return block_bytes() * num_blocks; }
  // KV bytes of one token across all layers (K and V, or the latent), windows not applied.
  FLOWKV_HOST_DEVICE constexpr int64_t token_bytes() const {
    return token_bytes_per_layer_kv() * chunks_per_block();
  }
  // Token blocks a windowed layer keeps: its window, wherever it starts in a block.
  FLOWKV_HOST_DEVICE constexpr int64_t window_token_blocks() const {
    return (int64_t{window_tokens} - 1 + block_size - 1) / block_size + 1;
  }
  // Blocks a request of `tokens` tokens holds. Without windowed layers, one per block_size
  // tokens; with them, its chunks packed into whole blocks (see the header comment).
  FLOWKV_HOST_DEVICE constexpr int64_t blocks_for_tokens(int64_t tokens) const {
    const int64_t token_blocks = (tokens + block_size - 1) / block_size;
    if (window_layers <= 0 || window_tokens <= 0) return token_blocks;
    const int64_t kept = token_blocks < window_token_blocks() ? token_blocks : window_token_blocks();
    const int64_t layer_blocks = (int64_t{num_layers} - window_layers) * token_blocks + int64_t{window_layers} * kept;
    return (layer_blocks + num_layers - 1) / num_layers;
  }
};

struct KvLayout {
  LayoutKind kind = LayoutKind::kBlockContiguous;
  KvGeometry geometry;

  // Byte offset of chunk (layer, kv, block) from the pool's base. kv: 0 = K, 1 = V (the latent,
  // 0, when kv_parts is 1).
  FLOWKV_HOST_DEVICE constexpr int64_t chunk_offset(int32_t layer, int32_t kv,
                                                    int64_t block) const {
    const int64_t chunk = geometry.chunk_bytes();
    if (kind == LayoutKind::kPagedPerLayer) {
      return ((int64_t{layer} * geometry.kv_parts + kv) * geometry.num_blocks + block) * chunk;
    }
    return ((block * geometry.num_layers + layer) * geometry.kv_parts + kv) * chunk;
  }

  // Contiguous bytes of one block in this layout: a whole block when block-contiguous,
  // one chunk when paged.
  FLOWKV_HOST_DEVICE constexpr int64_t block_piece_bytes() const {
    return kind == LayoutKind::kBlockContiguous ? geometry.block_bytes() : geometry.chunk_bytes();
  }
  // Contiguous pieces that make up one block (1 or kv_parts * num_layers).
  FLOWKV_HOST_DEVICE constexpr int64_t pieces_per_block() const {
    return kind == LayoutKind::kBlockContiguous ? 1 : geometry.chunks_per_block();
  }
  // Offset of piece p (0 <= p < pieces_per_block()) of block b. For the paged layout the
  // pieces are ordered (layer, kv).
  FLOWKV_HOST_DEVICE constexpr int64_t piece_offset(int64_t block, int64_t piece) const {
    if (kind == LayoutKind::kBlockContiguous) return block * geometry.block_bytes();
    return chunk_offset(static_cast<int32_t>(piece / geometry.kv_parts),
                        static_cast<int32_t>(piece % geometry.kv_parts), block);
  }
};

const char* to_string(LayoutKind kind);

}  // namespace flowkv::core
