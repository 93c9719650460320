// The CUDA executor's per-iteration tables, built on the host: token order, positions, each
// token's block, block tables cut to the positions reached, sampled rows, the packed sections,
// and the input errors that stop a bad item before it reaches the device. Runs without a GPU.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/base/error.h"
#include "runtime/cuda/iteration_plan.h"

namespace flowkv::runtime {
namespace {

core::KvLayout layout() {
  core::KvLayout l;
  l.kind = core::LayoutKind::kPagedPerLayer;
  l.geometry.num_layers = 2;
  l.geometry.num_kv_heads = 2;
  l.geometry.head_dim = 32;
  l.geometry.block_size = 4;
  l.geometry.dtype_bytes = 2;
  l.geometry.num_blocks = 20;
  return l;
}

TEST(IterationPlan, TablesFollowTheItems) {
  const std::vector<int32_t> prefill_tokens = {5, 6, 7, 8, 9, 10};
  const std::vector<int64_t> prefill_blocks = {3, 4, 11};  // 2 cover 6 tokens; the third does not travel
  const std::vector<int32_t> decode_token = {42};
  const std::vector<int64_t> decode_blocks = {7, 8, 9};    // position 9 lives in block 9
  ExecItem a;
  a.tokens = prefill_tokens;
  a.start = 0;
  a.blocks = prefill_blocks;
  a.sample = false;
  ExecItem b;
  b.tokens = decode_token;
  b.start = 9;
  b.blocks = decode_blocks;
  const std::vector<ExecItem> items = {a, b};
  const IterationPlan p = plan_iteration(items, layout(), 100, 8);
  EXPECT_EQ(p.token_ids, (std::vector<int32_t>{5, 6, 7, 8, 9, 10, 42}));
  EXPECT_EQ(p.positions, (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 9}));
  EXPECT_EQ(p.token_blocks, (std::vector<int64_t>{3, 3, 3, 3, 4, 4, 9}));
  EXPECT_EQ(p.block_ids, (std::vector<int64_t>{3, 4, 7, 8, 9}));
  ASSERT_EQ(p.items.size(), 2u);
  EXPECT_EQ(p.items[1].token_offset, 6);
  EXPECT_EQ(p.items[1].context, 9);
  EXPECT_EQ(p.items[1].block_offset, 2);
  EXPECT_EQ(p.sampled_rows, (std::vector<int32_t>{6}));
  EXPECT_EQ(p.sampled_items, (std::vector<int32_t>{1}));
  EXPECT_EQ(p.schedule.decode.size(), 1u);
  EXPECT_EQ(p.schedule.prefill.size(), 1u);  // 6 tokens x group 4 = 24 rows

  std::vector<std::byte> packed(p.sections.total);
  p.pack(packed.data());
  EXPECT_EQ(p.sections.total % 16, 0u);
  int64_t block_ids[5];
  std::memcpy(block_ids, packed.data() + p.sections.block_ids, sizeof(block_ids));
  EXPECT_EQ(block_ids[4], 9);
  int32_t sampled = -1;
  std::memcpy(&sampled, packed.data() + p.sections.sampled_rows, sizeof(sampled));
  EXPECT_EQ(sampled, 6);
}

TEST(IterationPlan, RefusesBadItems) {
  const std::vector<int32_t> tokens = {1, 2};
  const std::vector<int64_t> blocks = {0};
  ExecItem e;
  e.tokens = tokens;
  e.blocks = blocks;
  const auto kind_of = [&](const ExecItem& item) {
    try {
      plan_iteration({&item, 1}, layout(), 100, 8);
    } catch (const core::Error& err) {
      return err.kind();
    }
    return core::ErrorKind::kInternal;  // not refused
  };
  EXPECT_EQ(kind_of(e), core::ErrorKind::kInternal);  // valid
  ExecItem too_short = e;
  too_short.start = 3;  // positions 3, 4: a second block is needed
  EXPECT_EQ(kind_of(too_short), core::ErrorKind::kInvalidInput);
  const std::vector<int64_t> outside = {20};
  ExecItem bad_block = e;
  bad_block.blocks = outside;
  EXPECT_EQ(kind_of(bad_block), core::ErrorKind::kInvalidInput);
  const std::vector<int32_t> big_token = {1, 100};
  ExecItem bad_token = e;
  bad_token.tokens = big_token;
  EXPECT_EQ(kind_of(bad_token), core::ErrorKind::kInvalidInput);
  ExecItem empty = e;
  empty.tokens = {};
  EXPECT_EQ(kind_of(empty), core::ErrorKind::kInvalidInput);
}

}  // namespace
}  // namespace flowkv::runtime
