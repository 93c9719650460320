// Causal GQA attention of an iteration's new tokens over the KV pool (paged, either layout).
//
// Item i has num_tokens new queries at positions [context, context + num_tokens); query at
// position p attends to keys 0..p of its request, read from the pool through the item's block
// table (position p in block block_ids[block_offset + p / block_size], slot p % block_size),
// after kernels::write_kv has put this iteration's K and V there. Scale 1/sqrt(head_dim).
//
// Two paths, one arithmetic:
//   - prefill work (items of several tokens): a block of 4 warps takes 64 query rows (rows are
//     (token, q head of the kv head's group) pairs) of one (item, kv head) and walks every key
//     tile up to its last row's position, splits one after the other;
//   - decode work (items of one token, group <= 16): one warp per (item, kv head, split) writes a
//     partial (max, sum, unnormalised output) per q head; a combine kernel merges the splits.
// Keys are visited in tiles of kAttentionKeyTile aligned to absolute positions, grouped into
// splits of kAttentionSplitKeys, each split's softmax state merged into the running total in split
// order with the same float operations on both paths (explicitly rounded, no contraction), and
// both paths share the tensor-core tile code (mma.sync m16n8k16 bf16, float32 accumulate). So a
// query's output depends only on its position and the keys: bit for bit the same whether it is
// computed in a prefill chunk of any size, after a prefix-cache hit, or as a decode step, and
// whatever else is in the batch. Masked keys contribute exact zeros; keys past a tile's last
// needed position are never read (zero-filled), so unwritten pool bytes cannot leak in.
//
// Contract: head_dim 32, 64 or 128 (kUnsupported otherwise; the switch names the value);
// num_heads a multiple of num_kv_heads; a bf16 pool; the tables are device memory as described
// below and consistent with the schedule made by schedule_attention() from the same items. Only
// enqueues work on `stream`.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>
#include <vector_types.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/kv/kv_layout.h"

namespace flowkv::kernels {

inline constexpr int32_t kAttentionKeyTile = 64;     // keys per tile
inline constexpr int32_t kAttentionSplitKeys = 256;  // keys per split (a multiple of the tile)
inline constexpr int32_t kAttentionPrefillRows = 64; // query rows per prefill block
inline constexpr int32_t kAttentionDecodeMaxGroup = 16;  // q heads per kv head on the decode path

// One item, as the kernels read it (host and device).
struct AttentionItem {
  int32_t token_offset = 0;  // first row of its new tokens in q and out
  int32_t num_tokens = 0;    // >= 1
  int32_t context = 0;       // positions before its new tokens (keys already in the pool)
  int32_t block_offset = 0;  // index of its first block id in block_ids
};

// A block's work: prefill (split = -1: all splits, writes the output) or decode (one split,
// writes partial slot `slot`).
struct AttentionWork {
  int32_t item = 0;
  int32_t row_block = 0;
  int32_t split = -1;
  int32_t slot = -1;
};

// One decode item's merge: partial slots [slot_base, slot_base + num_splits).
struct CombineWork {
  int32_t item = 0;
  int32_t slot_base = 0;
  int32_t num_splits = 0;
  int32_t reserved = 0;
};

struct AttentionSchedule {
  std::vector<AttentionWork> prefill;
  std::vector<AttentionWork> decode;
  std::vector<CombineWork> combine;
  int32_t num_slots = 0;  // partial slots the decode work writes
};

// Which path each item takes and how its work is cut. Pure, deterministic.
AttentionSchedule schedule_attention(std::span<const AttentionItem> items, int32_t num_heads,
                                     int32_t num_kv_heads);

struct AttentionArgs {
  const __nv_bfloat16* q = nullptr;  // [num_tokens][q_stride] bf16; head h at columns h * head_dim
  int64_t q_stride = 0;              // elements, even
  __nv_bfloat16* out = nullptr;      // [num_tokens][num_heads * head_dim] bf16
  const std::byte* pool = nullptr;   // laid out by `layout`
  core::KvLayout layout;
  int32_t layer = 0;
  int32_t num_heads = 0;
  const int64_t* block_ids = nullptr;        // [*] the items' block tables, back to back
  const AttentionItem* items = nullptr;      // [num_items]
  const AttentionWork* prefill = nullptr;    // [num_prefill]
  int32_t num_prefill = 0;
  const AttentionWork* decode = nullptr;     // [num_decode]
  int32_t num_decode = 0;
  const CombineWork* combine = nullptr;      // [num_combine]
  int32_t num_combine = 0;
  float* partial_out = nullptr;   // [num_slots][num_heads][head_dim] f32 (decode scratch)
  float2* partial_ml = nullptr;   // [num_slots][num_heads] (running max, sum) (decode scratch)
};

void attention(const AttentionArgs& args, cudaStream_t stream);

}  // namespace flowkv::kernels
