// IterationPlan: what the CUDA executor uploads for one iteration, built on the host from the
// ExecItems: the new tokens and their positions, each token's KV block, the items' block tables
// (int64, back to back), the attention items and schedule (kernels/attention.h), and the rows
// whose logits are sampled. Everything goes up in ONE copy: pack() writes the tables into one
// buffer at the offsets of `sections`, 16-byte aligned.
//
// Validation happens here, where the items enter the device: a token id outside the vocabulary,
// a block id outside the pool, a block table too short for the item's positions, an empty item,
// or a context past what the int32 tables hold is an input error naming the item. Pure host code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/kv/kv_layout.h"
#include "kernels/attention.h"
#include "runtime/executor.h"

namespace flowkv::runtime {

struct IterationPlan {
  std::vector<int32_t> token_ids;     // [num_tokens]
  std::vector<int32_t> positions;     // [num_tokens]
  std::vector<int64_t> token_blocks;  // [num_tokens] block holding the token's KV
  std::vector<int64_t> block_ids;     // the items' block tables, back to back
  std::vector<kernels::AttentionItem> items;
  kernels::AttentionSchedule schedule;
  std::vector<int32_t> sampled_rows;  // token index of each sampled item's last token
  std::vector<int32_t> sampled_items; // the item each sampled row belongs to

  // Byte offsets of each table in the packed buffer, and its size.
  struct Sections {
    size_t token_ids = 0, positions = 0, token_blocks = 0, block_ids = 0, items = 0,
           prefill = 0, decode = 0, combine = 0, sampled_rows = 0, total = 0;
  } sections;

  int64_t num_tokens() const { return static_cast<int64_t>(token_ids.size()); }
  int64_t num_sampled() const { return static_cast<int64_t>(sampled_rows.size()); }
  // Writes every table at its offset; dst holds sections.total bytes.
  void pack(std::byte* dst) const;
};

IterationPlan plan_iteration(std::span<const ExecItem> items, const core::KvLayout& layout,
                             int32_t vocab_size, int32_t num_heads);

}  // namespace flowkv::runtime
