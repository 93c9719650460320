// Transfer planning: which copies move a request's KV from a source pool to a destination
// pool. The sim counts the calls and bytes; the runtime issues exactly these copies.
//
// Modes:
//  - kPerBlock:  one copy per contiguous piece of one block (the per-block baseline:
//                kv_parts * layers * blocks copies on the paged layout, one per block when
//                block-contiguous);
//  - kMerged:    pieces consecutive on both sides become one copy (FlowKV's bidirectional
//                alignment); on empty block-contiguous pools a request is one copy;
//  - kPerLayer:  vLLM-disagg: each layer's K and V (or latent) of the request are gathered into one
//                staging buffer and sent with one call per layer (num_layers calls); the
//                gather and scatter are local copies the plan also reports.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/kv/block_allocator.h"
#include "core/kv/kv_layout.h"

namespace flowkv::core {

enum class TransferMode { kPerBlock, kMerged, kPerLayer };

struct Copy {
  // Bytes from the pool's base; with kPerLayer, from the base of the staging buffer on that
  // side, laid out // [num_layers][kv_parts][num_blocks_of_request][block_size][num_kv_heads][head_dim]
  int64_t src_offset = 0;
  int64_t dst_offset = 0;
  int64_t bytes = 0;
  friend bool operator==(const Copy&, const Copy&) = default;
};

struct TransferCost {
  int64_t calls = 0;        // transport calls across the link
  int64_t bytes = 0;        // bytes across the link
  int64_t local_copies = 0; // gather/scatter copies on either end (kPerLayer only)
};

// Canonical order of the pieces (kPerBlock lists them, kMerged merges neighbours in it):
// (layer, part)-major, then the request's blocks, when the source is paged; block-major when
// it is block-contiguous. Pieces are chunks, or whole blocks when both sides are contiguous.
// The copies across the link, in order. Source and destination hold the same number of blocks;
// whole blocks are moved, the partly filled last one too.
std::vector<Copy> plan_transfer(const KvLayout& src, std::span<const BlockRun> src_blocks,
                                const KvLayout& dst, std::span<const BlockRun> dst_blocks,
                                TransferMode mode);

// The local copies of a kPerLayer transfer on one side: every (layer, K|V, block) chunk of
// `blocks` between the pool and the staging buffer // [num_layers][2][n][block_size][kv_heads][head_dim]
// that plan_transfer's per-layer copies address. gather: pool -> staging (src offsets in the
// pool); otherwise staging -> pool. count_transfer's local_copies counts both sides' copies.
std::vector<Copy> plan_staging(const KvLayout& pool, std::span<const BlockRun> blocks, bool gather);

// Same calls and bytes as plan_transfer(...).size() / sum of bytes, without materialising the
// copies: O(runs), for the simulator's hot path.
TransferCost count_transfer(const KvLayout& src, std::span<const BlockRun> src_blocks,
                            const KvLayout& dst, std::span<const BlockRun> dst_blocks,
                            TransferMode mode);

TransferMode parse_transfer_mode(std::string_view name);  // "per-block" | "merged" | "per-layer"
const char* to_string(TransferMode mode);

}  // namespace flowkv::core
