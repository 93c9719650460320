// Transfer plans: the copies move exactly the request's bytes to the right places, the call
// counts follow the formulas, and count_transfer agrees with plan_transfer on random histories.
#include "core/kv/transfer_plan.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/base/error.h"
#include "core/kv/pool_history.h"

namespace flowkv::core {
namespace {

KvGeometry geometry(int32_t layers, int64_t num_blocks, int32_t kv_parts = 2) {
  KvGeometry g;
  g.num_layers = layers;
  g.kv_parts = kv_parts;
  g.num_kv_heads = 2;
  g.head_dim = 4;
  g.block_size = 3;
  g.dtype_bytes = 2;
  g.num_blocks = num_blocks;
  return g;
}

KvGeometry llama_8b(int64_t num_blocks) {
  KvGeometry g;
  g.num_layers = 32;
  g.num_kv_heads = 8;
  g.head_dim = 128;
  g.block_size = 16;
  g.dtype_bytes = 2;
  g.num_blocks = num_blocks;
  return g;
}

std::vector<int64_t> ids(const BlockList& runs) {
  std::vector<int64_t> out;
  for (const BlockRun& r : runs)
    for (int64_t k = 0; k < r.count; ++k) out.push_back(int64_t{to_int(r.first)} + k);
  return out;
}

// Pairs (i, i+1) where both the source and destination block ids step by +1.
int64_t joint_steps(const std::vector<int64_t>& s, const std::vector<int64_t>& d) {
  int64_t steps = 0;
  for (size_t i = 0; i + 1 < s.size(); ++i) steps += (s[i + 1] == s[i] + 1 && d[i + 1] == d[i] + 1);
  return steps;
}

// Checks that the copies move chunk (layer, kv, s_i) to chunk (layer, kv, d_i) for every block
// i of the request and every (layer, kv), each byte once, and nothing else.
void expect_moves_exactly_the_request(const KvLayout& src, const BlockList& src_runs,
                                      const KvLayout& dst, const BlockList& dst_runs,
                                      const std::vector<Copy>& copies) {
  const std::vector<int64_t> s = ids(src_runs), d = ids(dst_runs);
  const KvGeometry& g = src.geometry;
  const int64_t chunk = g.chunk_bytes();
  std::map<int64_t, int64_t> expected;  // source chunk offset -> destination chunk offset
  for (size_t i = 0; i < s.size(); ++i)
    for (int32_t l = 0; l < g.num_layers; ++l)
      for (int32_t kv = 0; kv < g.kv_parts; ++kv)
        expected[src.chunk_offset(l, kv, s[i])] = dst.chunk_offset(l, kv, d[i]);
  std::map<int64_t, int64_t> moved;
  std::map<int64_t, int> dst_hits;
  for (const Copy& c : copies) {
    ASSERT_GT(c.bytes, 0);
    ASSERT_EQ(c.bytes % chunk, 0);
    ASSERT_EQ(c.src_offset % chunk, 0);
    ASSERT_EQ(c.dst_offset % chunk, 0);
    for (int64_t off = 0; off < c.bytes; off += chunk) {
      ASSERT_TRUE(moved.emplace(c.src_offset + off, c.dst_offset + off).second)
          << "source chunk at " << c.src_offset + off << " copied twice";
      ASSERT_EQ(++dst_hits[c.dst_offset + off], 1) << "destination chunk written twice";
    }
  }
  EXPECT_EQ(moved, expected);
}

int64_t sum_bytes(const std::vector<Copy>& copies) {
  int64_t b = 0;
  for (const Copy& c : copies) b += c.bytes;
  return b;
}

// Merging the per-block plan by hand, in its order, must give the merged plan.
std::vector<Copy> merge_neighbours(const std::vector<Copy>& copies) {
  std::vector<Copy> out;
  for (const Copy& c : copies) {
    if (!out.empty() && out.back().src_offset + out.back().bytes == c.src_offset &&
        out.back().dst_offset + out.back().bytes == c.dst_offset) {
      out.back().bytes += c.bytes;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

TEST(TransferPlan, Llama31_8B_13000TokensOnEmptyPools) {
  // 13,000 tokens = 813 blocks of 16; 2 * 32 pieces per block in the paged layout.
  const int64_t n = 813;
  const BlockList blocks{BlockRun{BlockId{0}, n}};
  const KvLayout paged{LayoutKind::kPagedPerLayer, llama_8b(4 * n)};
  const KvLayout contiguous{LayoutKind::kBlockContiguous, llama_8b(4 * n)};
  const int64_t bytes = n * 16 * 131072;

  const TransferCost per_block =
      count_transfer(paged, blocks, paged, blocks, TransferMode::kPerBlock);
  EXPECT_EQ(per_block.calls, 52032);
  EXPECT_EQ(per_block.bytes, bytes);
  EXPECT_EQ(count_transfer(contiguous, blocks, contiguous, blocks, TransferMode::kMerged).calls, 1);
  EXPECT_EQ(count_transfer(contiguous, blocks, contiguous, blocks, TransferMode::kPerBlock).calls,
            n);
  EXPECT_EQ(count_transfer(paged, blocks, paged, blocks, TransferMode::kMerged).calls, 64);
  const TransferCost per_layer =
      count_transfer(paged, blocks, paged, blocks, TransferMode::kPerLayer);
  EXPECT_EQ(per_layer.calls, 32);
  EXPECT_EQ(per_layer.bytes, bytes);
  EXPECT_EQ(per_layer.local_copies, 2 * n * 64);

  const auto plan = plan_transfer(paged, blocks, paged, blocks, TransferMode::kPerBlock);
  EXPECT_EQ(plan.size(), 52032u);
  EXPECT_EQ(sum_bytes(plan), bytes);
  const auto one = plan_transfer(contiguous, blocks, contiguous, blocks, TransferMode::kMerged);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0], (Copy{0, 0, bytes}));
}

struct Case {
  LayoutKind src, dst;
};

class PlanProperties : public ::testing::TestWithParam<Case> {};

// On random allocator histories (both allocators, pools down to one block, requests up to the
// whole pool) plan_transfer moves exactly the request, and count_transfer agrees with it; every
// other trial with one latent per token and layer (MLA, kv_parts 1) instead of K and V.
TEST_P(PlanProperties, PlanIsExactAndCountAgreesOnRandomHistories) {
  const Case c = GetParam();
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    const int32_t layers = 1 + static_cast<int32_t>(uniform_below(rng, 3));
    const int64_t src_pool = 1 + static_cast<int64_t>(uniform_below(rng, trial < 60 ? 4 : 64));
    const int64_t dst_pool = 1 + static_cast<int64_t>(uniform_below(rng, trial < 60 ? 4 : 64));
    const int64_t max_n = std::min(src_pool, dst_pool);
    // A third of the trials take the whole of the smaller pool.
    const int64_t n =
        uniform_below(rng, 3) == 0
            ? max_n
            : 1 + static_cast<int64_t>(uniform_below(rng, static_cast<uint64_t>(max_n)));
    auto place = [&](int64_t pool) {
      const auto kind = uniform_below(rng, 2) ? AllocatorKind::kSegment : AllocatorKind::kFreeList;
      auto a = make_allocator(kind, pool);
      PoolHistoryOptions options;
      options.seed = rng();
      const int64_t spare = pool - n;
      options.occupancy =
          static_cast<double>(uniform_below(rng, static_cast<uint64_t>(spare + 1))) /
          static_cast<double>(pool);
      fill_pool(*a, options);
      BlockList blocks;
      EXPECT_TRUE(a->allocate(n, blocks));
      return blocks;
    };
    const BlockList s = place(src_pool), d = place(dst_pool);
    const int32_t parts = trial % 2 == 0 ? 2 : 1;
    const KvLayout src{c.src, geometry(layers, src_pool, parts)};
    const KvLayout dst{c.dst, geometry(layers, dst_pool, parts)};
    const int64_t pieces_per_block =
        c.src == LayoutKind::kBlockContiguous && c.dst == LayoutKind::kBlockContiguous ? 1
                                                                                       : parts * layers;
    const auto per_block = plan_transfer(src, s, dst, d, TransferMode::kPerBlock);
    const auto merged = plan_transfer(src, s, dst, d, TransferMode::kMerged);
    SCOPED_TRACE("trial " + std::to_string(trial) + ": " + std::to_string(n) + " blocks, pools " +
                 std::to_string(src_pool) + "/" + std::to_string(dst_pool));
    expect_moves_exactly_the_request(src, s, dst, d, per_block);
    expect_moves_exactly_the_request(src, s, dst, d, merged);
    EXPECT_EQ(merged, merge_neighbours(per_block));
    EXPECT_EQ(static_cast<int64_t>(per_block.size()), n * pieces_per_block);

    for (TransferMode mode :
         {TransferMode::kPerBlock, TransferMode::kMerged, TransferMode::kPerLayer}) {
      const auto plan = plan_transfer(src, s, dst, d, mode);
      const TransferCost cost = count_transfer(src, s, dst, d, mode);
      EXPECT_EQ(cost.calls, static_cast<int64_t>(plan.size())) << to_string(mode);
      EXPECT_EQ(cost.bytes, sum_bytes(plan)) << to_string(mode);
      EXPECT_EQ(cost.bytes, n * src.geometry.block_bytes());
    }

    // Formulas for merged plans that do not wrap around a whole pool: paged -> paged merges
    // along joint runs inside each (layer, K|V); contiguous -> contiguous merges along joint runs.
    const auto sv = ids(s), dv = ids(d);
    const bool spans_src_pool = sv.back() - sv.front() + 1 == src_pool;
    const bool spans_dst_pool = dv.back() - dv.front() + 1 == dst_pool;
    if (c.src == LayoutKind::kBlockContiguous && c.dst == LayoutKind::kBlockContiguous) {
      EXPECT_EQ(static_cast<int64_t>(merged.size()), n - joint_steps(sv, dv));
    } else if (c.src == LayoutKind::kPagedPerLayer && c.dst == LayoutKind::kPagedPerLayer &&
               !(spans_src_pool && spans_dst_pool)) {
      EXPECT_EQ(static_cast<int64_t>(merged.size()), parts * layers * (n - joint_steps(sv, dv)));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllLayoutPairs, PlanProperties,
    ::testing::Values(Case{LayoutKind::kPagedPerLayer, LayoutKind::kPagedPerLayer},
                      Case{LayoutKind::kBlockContiguous, LayoutKind::kBlockContiguous},
                      Case{LayoutKind::kPagedPerLayer, LayoutKind::kBlockContiguous},
                      Case{LayoutKind::kBlockContiguous, LayoutKind::kPagedPerLayer}),
    [](const auto& info) {
      return std::string(to_string(info.param.src)) + "_to_" + to_string(info.param.dst);
    });

TEST(TransferPlan, PagedRequestOverAWholePoolIsOneCopy) {
  // Every block of both pools, in order: the layer tensors follow each other, so the pieces
  // of (layer l, V) and (layer l + 1, K) join too.
  const BlockList all{BlockRun{BlockId{0}, 5}};
  const KvLayout paged{LayoutKind::kPagedPerLayer, geometry(3, 5)};
  EXPECT_EQ(count_transfer(paged, all, paged, all, TransferMode::kMerged).calls, 1);
  EXPECT_EQ(plan_transfer(paged, all, paged, all, TransferMode::kMerged).size(), 1u);
}

TEST(TransferPlan, PerLayerIsOneStagedCopyPerLayer) {
  const BlockList s{BlockRun{BlockId{4}, 2}, BlockRun{BlockId{9}, 1}};
  const BlockList d{BlockRun{BlockId{0}, 3}};
  const KvLayout src{LayoutKind::kPagedPerLayer, geometry(4, 16)};
  const auto plan = plan_transfer(src, s, src, d, TransferMode::kPerLayer);
  const int64_t layer_bytes = 2 * 3 * src.geometry.chunk_bytes();
  ASSERT_EQ(plan.size(), 4u);
  for (int64_t l = 0; l < 4; ++l)
    EXPECT_EQ(plan[static_cast<size_t>(l)], (Copy{l * layer_bytes, l * layer_bytes, layer_bytes}));
  EXPECT_EQ(count_transfer(src, s, src, d, TransferMode::kPerLayer).local_copies, 2 * 3 * 8);
}

TEST(TransferPlan, MlaLatentIsOneChunkPerLayer) {
  // DeepSeek-V3: 61 layers, one latent of 576 bf16 elements per token and layer.
  KvGeometry g;
  g.num_layers = 61;
  g.num_kv_heads = 1;
  g.head_dim = 576;
  g.block_size = 16;
  g.kv_parts = 1;
  g.num_blocks = 400;
  const KvLayout paged{LayoutKind::kPagedPerLayer, g};
  const KvLayout contiguous{LayoutKind::kBlockContiguous, g};
  const BlockList blocks{BlockRun{BlockId{0}, 63}};
  EXPECT_EQ(g.block_bytes(), 16 * 61 * 576 * 2);
  EXPECT_EQ(count_transfer(paged, blocks, paged, blocks, TransferMode::kPerBlock).calls, 63 * 61);
  EXPECT_EQ(count_transfer(paged, blocks, paged, blocks, TransferMode::kMerged).calls, 61);
  EXPECT_EQ(count_transfer(contiguous, blocks, contiguous, blocks, TransferMode::kMerged).calls, 1);
  EXPECT_EQ(count_transfer(paged, blocks, paged, blocks, TransferMode::kPerLayer).calls, 61);
  const auto per_layer = plan_transfer(paged, blocks, paged, blocks, TransferMode::kPerLayer);
  EXPECT_EQ(per_layer[1].src_offset, 63 * g.chunk_bytes());  // [layers][1][63 blocks] staging
}

TEST(TransferPlan, EmptyRequestIsNoCopy) {
  const KvLayout layout{LayoutKind::kBlockContiguous, geometry(2, 4)};
  const BlockList none;
  for (TransferMode mode :
       {TransferMode::kPerBlock, TransferMode::kMerged, TransferMode::kPerLayer}) {
    EXPECT_TRUE(plan_transfer(layout, none, layout, none, mode).empty());
    EXPECT_EQ(count_transfer(layout, none, layout, none, mode).calls, 0);
  }
}

TEST(TransferPlan, MismatchedInputsAreInternalErrors) {
  const KvLayout a{LayoutKind::kBlockContiguous, geometry(2, 8)};
  const KvLayout b{LayoutKind::kBlockContiguous, geometry(3, 8)};
  const BlockList two{BlockRun{BlockId{0}, 2}};
  const BlockList three{BlockRun{BlockId{0}, 3}};
  const BlockList outside{BlockRun{BlockId{7}, 2}};
  EXPECT_THROW(count_transfer(a, two, b, two, TransferMode::kMerged), Error);
  EXPECT_THROW(plan_transfer(a, two, a, three, TransferMode::kMerged), Error);
  EXPECT_THROW(count_transfer(a, outside, a, two, TransferMode::kPerBlock), Error);
}

TEST(TransferPlan, ModeNames) {
  for (TransferMode mode :
       {TransferMode::kPerBlock, TransferMode::kMerged, TransferMode::kPerLayer}) {
    EXPECT_EQ(parse_transfer_mode(to_string(mode)), mode);
  }
  try {
    parse_transfer_mode("bulk");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_NE(std::string(e.what()).find("per-block, merged, per-layer"), std::string::npos);
  }
}

}  // namespace
}  // namespace flowkv::core
