// bench-transfer's expectation of where bytes land is built independently of the transfer
// plan, and agrees with it; on a GPU, a small run of every method reports the call counts
// the paper's Table 3 is about (2*L*N per block, L per layer, 1 merged on empty pools) and
// passes its own byte checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "core/kv/transfer_plan.h"
#include "runtime/cuda/bench_verify.h"
#include "runtime/cuda/cuda_handles.h"
#include "runtime/cuda/kv_pool.h"
#include "runtime/cuda/transfer_bench.h"

namespace flowkv::runtime {
namespace {

core::KvLayout layout(core::LayoutKind kind, int64_t blocks) {
  core::KvLayout l;
  l.kind = kind;
  l.geometry.num_layers = 3;
  l.geometry.num_kv_heads = 2;
  l.geometry.head_dim = 16;
  l.geometry.block_size = 4;
  l.geometry.num_blocks = blocks;
  return l;
}

std::vector<kernels::SegmentRow> as_rows(std::vector<core::Copy> copies) {
  std::sort(copies.begin(), copies.end(), [](auto& a, auto& b) { return a.dst_offset < b.dst_offset; });
  std::vector<kernels::SegmentRow> rows;
  for (const auto& c : copies) {
    if (!rows.empty() && rows.back().dst_offset + rows.back().bytes == c.dst_offset &&
        rows.back().src_offset + rows.back().bytes == c.src_offset) {
      rows.back().bytes += c.bytes;
    } else {
      rows.push_back({c.src_offset, c.dst_offset, c.bytes, 0});
    }
  }
  return rows;
}

bool same(const std::vector<kernels::SegmentRow>& a, const std::vector<kernels::SegmentRow>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].src_offset != b[i].src_offset || a[i].dst_offset != b[i].dst_offset || a[i].bytes != b[i].bytes) return false;
  }
  return true;
}

TEST(ExpectedRows, AgreeWithThePlanForEveryLayoutPairAndMode) {
  const core::BlockList src_runs = {{core::BlockId{5}, 3}, {core::BlockId{1}, 2}, {core::BlockId{12}, 1}};
  const core::BlockList dst_runs = {{core::BlockId{0}, 4}, {core::BlockId{9}, 2}};
  for (auto sk : {core::LayoutKind::kPagedPerLayer, core::LayoutKind::kBlockContiguous}) {
    for (auto dk : {core::LayoutKind::kPagedPerLayer, core::LayoutKind::kBlockContiguous}) {
      const auto sl = layout(sk, 16), dl = layout(dk, 12);
      const auto rows = expected_rows(sl, expand_block_ids(src_runs, 16), dl, expand_block_ids(dst_runs, 12));
      for (auto mode : {core::TransferMode::kPerBlock, core::TransferMode::kMerged}) {
        EXPECT_TRUE(same(rows, as_rows(core::plan_transfer(sl, src_runs, dl, dst_runs, mode))))
            << core::to_string(sk) << " -> " << core::to_string(dk) << ", " << core::to_string(mode);
      }
    }
  }
}

TEST(ExpectedRows, EmptyContiguousPoolsAreOneRow) {
  const auto l = layout(core::LayoutKind::kBlockContiguous, 10);
  const std::vector<int64_t> ids = {2, 3, 4, 5};
  const auto rows = expected_rows(l, ids, l, ids);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].bytes, 4 * l.geometry.block_bytes());
}

TEST(TransferBench, SmallRunReportsTheCallCountsOfEachMethod) {
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device: bench-transfer cannot run";
  TransferBenchOptions o;
  o.model.name = "tiny";
  o.model.num_layers = 4;
  o.model.num_kv_heads = 2;
  o.model.head_dim = 64;
  o.model.dtype_bytes = 2;
  o.tokens = {100, 250};
  o.repeats = 2;
  o.warmup = 1;
  o.occupancy = 0.6;
  o.baseline_bytes = 8 << 20;
  std::ostringstream log;
  const TransferBenchReport report = run_transfer_bench(o, log);
  ASSERT_EQ(report.results.size(), 2u);
  EXPECT_GT(report.baseline_gb_per_s, 0);
  for (const TokenResult& tr : report.results) {
    const int64_t n = (tr.tokens + 15) / 16;
    EXPECT_EQ(tr.blocks, n);
    std::map<std::string, const MethodResult*> by_key;
    for (const auto& m : tr.methods) by_key[m.key] = &m;
    ASSERT_EQ(by_key.size(), 6u);
    EXPECT_EQ(by_key["per-block-paged"]->calls, 2 * 4 * n);
    EXPECT_EQ(by_key["per-block-paged-fused"]->calls, 1);
    EXPECT_EQ(by_key["per-layer"]->calls, 4);
    EXPECT_EQ(by_key["per-layer"]->local_launches, 2);
    EXPECT_EQ(by_key["flowkv-merged-empty"]->calls, 1);
    EXPECT_GE(by_key["flowkv-merged-fragmented"]->calls, 1);
    EXPECT_EQ(by_key["flowkv-merged-fragmented-fused"]->calls, 1);
    for (const auto& m : tr.methods) {
      EXPECT_EQ(m.ms.size(), 2u);
      EXPECT_GT(m.median_ms, 0);
    }
  }
  std::ostringstream table;
  print_table(o, report, table);
  EXPECT_NE(table.str().find("flowkv-merged-fragmented"), std::string::npos);
  const auto j = to_json(o, report);
  EXPECT_EQ(j["results"].size(), 2u);
  EXPECT_TRUE(j.contains("copy_link"));
}

}  // namespace
}  // namespace flowkv::runtime
