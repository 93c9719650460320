// KvLayout: a pure description of where each byte of a KV pool lives.
//
// A pool holds num_blocks blocks of block_size tokens. For each (layer, K|V, block) there is
// one "chunk" of block_size * num_kv_heads * head_dim elements, contiguous in every layout.
// The layouts differ in how chunks are ordered inside the pool's one allocation:
//
//   kPagedPerLayer   (vLLM): one tensor per layer, the tensors back to back:
//                    // [num_layers][2][num_blocks][block_size][num_kv_heads][head_dim]
//                    A block's KV is 2 * num_layers chunks, num_blocks chunks apart.
//   kBlockContiguous (FlowKV):
//                    // [num_blocks][num_layers][2][block_size][num_kv_heads][head_dim]
//                    A block's KV is one contiguous piece of 2 * num_layers chunks, and
//                    consecutive block ids are consecutive bytes.
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
  int32_t dtype_bytes = 2;   // bf16 / fp16
  int64_t num_blocks = 0;    // blocks in the pool

  FLOWKV_HOST_DEVICE constexpr int64_t token_bytes_per_layer_kv() const {
    return int64_t{num_kv_heads} * head_dim * dtype_bytes;
  }
  // One (layer, K|V, block) piece.
  FLOWKV_HOST_DEVICE constexpr int64_t chunk_bytes() const {
    return token_bytes_per_layer_kv() * block_size;
  }
  // All layers' K and V of one block.
  FLOWKV_HOST_DEVICE constexpr int64_t block_bytes() const {
    return chunk_bytes() * 2 * num_layers;
  }
  FLOWKV_HOST_DEVICE constexpr int64_t pool_bytes() const { return block_bytes() * num_blocks; }
  // KV bytes of one token across all layers (K and V).
  FLOWKV_HOST_DEVICE constexpr int64_t token_bytes() const {
    return token_bytes_per_layer_kv() * 2 * num_layers;
  }
  FLOWKV_HOST_DEVICE constexpr int64_t blocks_for_tokens(int64_t tokens) const {
    return (tokens + block_size - 1) / block_size;
  }
};

struct KvLayout {
  LayoutKind kind = LayoutKind::kBlockContiguous;
  KvGeometry geometry;

  // Byte offset of chunk (layer, kv, block) from the pool's base. kv: 0 = K, 1 = V.
  FLOWKV_HOST_DEVICE constexpr int64_t chunk_offset(int32_t layer, int32_t kv,
                                                    int64_t block) const {
    const int64_t chunk = geometry.chunk_bytes();
    if (kind == LayoutKind::kPagedPerLayer) {
      return ((int64_t{layer} * 2 + kv) * geometry.num_blocks + block) * chunk;
    }
    return ((block * geometry.num_layers + layer) * 2 + kv) * chunk;
  }

  // Contiguous bytes of one block in this layout: a whole block when block-contiguous,
  // one chunk when paged.
  FLOWKV_HOST_DEVICE constexpr int64_t block_piece_bytes() const {
    return kind == LayoutKind::kBlockContiguous ? geometry.block_bytes() : geometry.chunk_bytes();
  }
  // Contiguous pieces that make up one block (1 or 2 * num_layers).
  FLOWKV_HOST_DEVICE constexpr int64_t pieces_per_block() const {
    return kind == LayoutKind::kBlockContiguous ? 1 : int64_t{2} * geometry.num_layers;
  }
  // Offset of piece p (0 <= p < pieces_per_block()) of block b. For the paged layout the
  // pieces are ordered (layer, kv).
  FLOWKV_HOST_DEVICE constexpr int64_t piece_offset(int64_t block, int64_t piece) const {
    if (kind == LayoutKind::kBlockContiguous) return block * geometry.block_bytes();
    return chunk_offset(static_cast<int32_t>(piece / 2), static_cast<int32_t>(piece % 2), block);
  }
};

const char* to_string(LayoutKind kind);

}  // namespace flowkv::core
