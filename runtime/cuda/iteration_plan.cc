#include "runtime/cuda/iteration_plan.h"

#include <cstring>
#include <limits>
#include <string>

#include "core/base/error.h"

namespace flowkv::runtime {
namespace {

constexpr size_t kSectionAlign = 16;

size_t align_up(size_t v) { return (v + kSectionAlign - 1) / kSectionAlign * kSectionAlign; }

template <typename T>
size_t add_section(size_t& cursor, const std::vector<T>& v) {
  const size_t offset = cursor;
  cursor = align_up(cursor + v.size() * sizeof(T));
  return offset;
}

template <typename T>
void copy_section(std::byte* dst, size_t offset, const std::vector<T>& v) {
  if (!v.empty()) std::memcpy(dst + offset, v.data(), v.size() * sizeof(T));
}

std::string item_name(size_t i, const ExecItem& item) {
  return "item " + std::to_string(i) + " (request " +
         std::to_string(static_cast<uint64_t>(item.request)) + ")";
}

}  // namespace

void IterationPlan::pack(std::byte* dst) const {
  copy_section(dst, sections.token_ids, token_ids);
  copy_section(dst, sections.positions, positions);
  copy_section(dst, sections.token_blocks, token_blocks);
  copy_section(dst, sections.block_ids, block_ids);
  copy_section(dst, sections.items, items);
  copy_section(dst, sections.prefill, schedule.prefill);
  copy_section(dst, sections.decode, schedule.decode);
  copy_section(dst, sections.combine, schedule.combine);
  copy_section(dst, sections.sampled_rows, sampled_rows);
}

IterationPlan plan_iteration(std::span<const ExecItem> items, const core::KvLayout& layout,
                             int32_t vocab_size, int32_t num_heads) {
  const core::KvGeometry& g = layout.geometry;
  constexpr int64_t kMaxInt32 = std::numeric_limits<int32_t>::max();
  IterationPlan plan;
  int64_t total_tokens = 0;
  for (const ExecItem& item : items) total_tokens += static_cast<int64_t>(item.tokens.size());
  if (total_tokens > kMaxInt32) core::throw_input_error("iteration of more than 2^31 tokens");
  plan.token_ids.reserve(static_cast<size_t>(total_tokens));
  for (size_t i = 0; i < items.size(); ++i) {
    const ExecItem& item = items[i];
    const int64_t n = static_cast<int64_t>(item.tokens.size());
    if (n < 1) core::throw_input_error(item_name(i, item) + " has no new tokens");
    if (item.start < 0 || item.start + n > kMaxInt32) {
      core::throw_input_error(item_name(i, item) + " has positions [" + std::to_string(item.start) +
                              ", " + std::to_string(item.start + n) + ") outside [0, 2^31)");
    }
    const int64_t blocks_needed = g.blocks_for_tokens(item.start + n);
    if (static_cast<int64_t>(item.blocks.size()) < blocks_needed) {
      core::throw_input_error(item_name(i, item) + " has " + std::to_string(item.blocks.size()) +
                              " blocks for positions up to " + std::to_string(item.start + n) +
                              " (needs " + std::to_string(blocks_needed) + ")");
    }
    kernels::AttentionItem a;
    a.token_offset = static_cast<int32_t>(plan.token_ids.size());
    a.num_tokens = static_cast<int32_t>(n);
    a.context = static_cast<int32_t>(item.start);
    a.block_offset = static_cast<int32_t>(plan.block_ids.size());
    if (static_cast<int64_t>(plan.block_ids.size()) + blocks_needed > kMaxInt32) {
      core::throw_input_error("iteration with more than 2^31 block table entries");
    }
    // Only the blocks the positions reach travel; the attention never reads past them.
    for (int64_t b = 0; b < blocks_needed; ++b) {
      const int64_t id = item.blocks[static_cast<size_t>(b)];
      if (id < 0 || id >= g.num_blocks) {
        core::throw_input_error(item_name(i, item) + ": block id " + std::to_string(id) +
                                " outside the pool's " + std::to_string(g.num_blocks) + " blocks");
      }
      plan.block_ids.push_back(id);
    }
    for (int64_t j = 0; j < n; ++j) {
      const int32_t token = item.tokens[static_cast<size_t>(j)];
      if (token < 0 || token >= vocab_size) {
        core::throw_input_error(item_name(i, item) + ": token id " + std::to_string(token) +
                                " outside the vocabulary of " + std::to_string(vocab_size));
      }
      const int64_t pos = item.start + j;
      plan.token_ids.push_back(token);
      plan.positions.push_back(static_cast<int32_t>(pos));
      plan.token_blocks.push_back(item.blocks[static_cast<size_t>(pos / g.block_size)]);
    }
    if (item.sample) {
      plan.sampled_rows.push_back(a.token_offset + a.num_tokens - 1);
      plan.sampled_items.push_back(static_cast<int32_t>(i));
    }
    plan.items.push_back(a);
  }
  plan.schedule = kernels::schedule_attention(plan.items, num_heads, g.num_kv_heads);

  size_t cursor = 0;
  auto& s = plan.sections;
  s.token_ids = add_section(cursor, plan.token_ids);
  s.positions = add_section(cursor, plan.positions);
  s.token_blocks = add_section(cursor, plan.token_blocks);
  s.block_ids = add_section(cursor, plan.block_ids);
  s.items = add_section(cursor, plan.items);
  s.prefill = add_section(cursor, plan.schedule.prefill);
  s.decode = add_section(cursor, plan.schedule.decode);
  s.combine = add_section(cursor, plan.schedule.combine);
  s.sampled_rows = add_section(cursor, plan.sampled_rows);
  s.total = cursor;
  return plan;
}

}  // namespace flowkv::runtime
