// KvPool: one allocation laid out by the core KvLayout, sized by an explicit block count or a
// fraction of free memory, with block ids from the core allocator; block ids handed to kernels
// are validated on the host.
#include <gtest/gtest.h>

#include "core/base/error.h"
#include "kernels/cuda_check.h"
#include "runtime/cuda/cuda_handles.h"
#include "runtime/cuda/kv_pool.h"

namespace flowkv::runtime {
namespace {

core::KvGeometry shape() {
  core::KvGeometry g;
  g.num_layers = 4;
  g.num_kv_heads = 2;
  g.head_dim = 64;
  g.block_size = 16;
  g.dtype_bytes = 2;
  return g;  // 8 KiB chunks, 64 KiB blocks
}

TEST(BlocksForMemory, FloorsTheFractionOfFreeBytes) {
  const int64_t block = shape().block_bytes();
  EXPECT_EQ(blocks_for_memory(shape(), 100 * block, 0.5), 50);
  EXPECT_EQ(blocks_for_memory(shape(), 100 * block + block - 1, 1.0), 100);
  EXPECT_EQ(blocks_for_memory(shape(), block - 1, 1.0), 0);
}

TEST(BlocksForMemory, RejectsFractionsOutsideZeroToOne) {
  for (double f : {0.0, -0.1, 1.01}) {
    try {
      blocks_for_memory(shape(), 1 << 30, f);
      FAIL() << "fraction " << f << " accepted";
    } catch (const core::Error& e) {
      EXPECT_EQ(e.kind(), core::ErrorKind::kInvalidInput);
    }
  }
}

TEST(ExpandBlockIds, ExpandsRunsInOrderAndRejectsRunsOutsideThePool) {
  const core::BlockList runs = {{core::BlockId{7}, 2}, {core::BlockId{3}, 1}};
  EXPECT_EQ(expand_block_ids(runs, 10), (std::vector<int64_t>{7, 8, 3}));
  EXPECT_THROW(expand_block_ids(runs, 8), core::Error);
}

class KvPoolOnDevice : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device: a KV pool cannot be allocated";
  }
};

TEST_F(KvPoolOnDevice, ExplicitBlockCountSizesTheAllocationByTheLayout) {
  KvPoolOptions o;
  o.layout = core::LayoutKind::kPagedPerLayer;
  o.num_blocks = 37;
  KvPool pool(shape(), o);
  EXPECT_EQ(pool.num_blocks(), 37);
  EXPECT_EQ(pool.bytes(), 37 * shape().block_bytes());
  EXPECT_EQ(pool.layout().kind, core::LayoutKind::kPagedPerLayer);
  EXPECT_EQ(pool.allocator().num_blocks(), 37);
  ASSERT_NE(pool.data(), nullptr);
  // The last chunk of the layout ends exactly at the end of the allocation.
  const auto& l = pool.layout();
  EXPECT_EQ(l.chunk_offset(shape().num_layers - 1, 1, 36) + shape().chunk_bytes(), pool.bytes());
  // The memory is usable end to end.
  FLOWKV_CUDA_CHECK(cudaMemset(pool.data(), 0xab, static_cast<size_t>(pool.bytes())));
  FLOWKV_CUDA_CHECK(cudaDeviceSynchronize());
  core::BlockList got;
  ASSERT_TRUE(pool.allocator().allocate(37, got));
  EXPECT_FALSE(pool.allocator().allocate(1, got));
}

TEST_F(KvPoolOnDevice, FractionOfFreeMemory) {
  size_t free_bytes = 0, total = 0;
  FLOWKV_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total));
  KvPoolOptions o;
  o.memory_fraction = 0.01;
  KvPool pool(shape(), o);
  const int64_t expected = blocks_for_memory(shape(), static_cast<int64_t>(free_bytes), 0.01);
  // Other processes may allocate in between; allow 1% of drift.
  EXPECT_NEAR(static_cast<double>(pool.num_blocks()), static_cast<double>(expected), expected * 0.01 + 1);
  EXPECT_GT(pool.num_blocks(), 0);
}

TEST_F(KvPoolOnDevice, BadGeometryIsAnInputError) {
  core::KvGeometry g = shape();
  g.head_dim = 0;
  try {
    KvPool pool(g, KvPoolOptions{});
    FAIL() << "a zero head dim was accepted";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::kInvalidInput);
  }
}

}  // namespace
}  // namespace flowkv::runtime
