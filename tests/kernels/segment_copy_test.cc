// The fused multi-segment copy moves exactly the planned bytes: every byte of every segment
// lands at its destination, and no other destination byte changes. Checked against a CPU
// reference on random data with a poisoned destination, for many small segments (the
// persistent-grid path), a few large ones (many tiles per segment) and a mix with partial tiles.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cuda_check.h"
#include "kernels/device_query.h"
#include "kernels/segment_copy.h"

namespace flowkv::kernels {
namespace {

struct DeviceMemory {
  explicit DeviceMemory(size_t bytes) { FLOWKV_CUDA_CHECK(cudaMalloc(&ptr, bytes)); }
  ~DeviceMemory() { cudaFree(ptr); }
  void* ptr = nullptr;
};

std::vector<uint8_t> random_bytes(size_t n, std::mt19937_64& rng) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t x = rng();
    std::memcpy(v.data() + i, &x, std::min<size_t>(8, n - i));
  }
  return v;
}

// Random non-overlapping destination ranges: the destination is cut into `count` slots and
// each segment takes a random 16-byte-aligned piece of its slot; sources are anywhere.
std::vector<core::Copy> random_segments(int count, int64_t slot, int64_t src_bytes,
                                        std::mt19937_64& rng) {
  std::vector<core::Copy> copies;
  for (int i = 0; i < count; ++i) {
    const int64_t bytes = 16 * static_cast<int64_t>(rng() % static_cast<uint64_t>(slot / 16 + 1));
    const int64_t dst = i * slot + 16 * static_cast<int64_t>(rng() % static_cast<uint64_t>((slot - bytes) / 16 + 1));
    const int64_t src = 16 * static_cast<int64_t>(rng() % static_cast<uint64_t>((src_bytes - bytes) / 16 + 1));
    copies.push_back({src, dst, bytes});
  }
  std::shuffle(copies.begin(), copies.end(), rng);
  return copies;
}

void check_copy(const std::vector<core::Copy>& copies, int64_t src_bytes, int64_t dst_bytes,
                uint64_t seed) {
  std::mt19937_64 rng(seed);
  const std::vector<uint8_t> src = random_bytes(static_cast<size_t>(src_bytes), rng);
  const std::vector<uint8_t> poison = random_bytes(static_cast<size_t>(dst_bytes), rng);
  std::vector<uint8_t> expected = poison;
  for (const core::Copy& c : copies) {
    std::memcpy(expected.data() + c.dst_offset, src.data() + c.src_offset, static_cast<size_t>(c.bytes));
  }
  DeviceMemory d_src(static_cast<size_t>(src_bytes));
  DeviceMemory d_dst(static_cast<size_t>(dst_bytes));
  FLOWKV_CUDA_CHECK(cudaMemcpy(d_src.ptr, src.data(), src.size(), cudaMemcpyHostToDevice));
  FLOWKV_CUDA_CHECK(cudaMemcpy(d_dst.ptr, poison.data(), poison.size(), cudaMemcpyHostToDevice));
  const SegmentTable table = build_segment_table(copies);
  DeviceMemory d_rows(std::max<size_t>(1, table.rows.size() * sizeof(SegmentRow)));
  FLOWKV_CUDA_CHECK(cudaMemcpy(d_rows.ptr, table.rows.data(), table.rows.size() * sizeof(SegmentRow),
                               cudaMemcpyHostToDevice));
  cudaStream_t stream;
  FLOWKV_CUDA_CHECK(cudaStreamCreate(&stream));
  segment_copy({static_cast<const SegmentRow*>(d_rows.ptr), static_cast<int64_t>(table.rows.size()),
                table.num_tiles},
               d_src.ptr, d_dst.ptr, stream);
  FLOWKV_CUDA_CHECK(cudaStreamSynchronize(stream));
  FLOWKV_CUDA_CHECK(cudaStreamDestroy(stream));
  std::vector<uint8_t> got(static_cast<size_t>(dst_bytes));
  FLOWKV_CUDA_CHECK(cudaMemcpy(got.data(), d_dst.ptr, got.size(), cudaMemcpyDeviceToHost));
  size_t wrong = 0, first = got.size();
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] != expected[i]) {
      ++wrong;
      first = std::min(first, i);
    }
  }
  EXPECT_EQ(wrong, 0u) << "first wrong destination byte at " << first;
}

class SegmentCopy : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_device_present()) GTEST_SKIP() << "no CUDA device: the fused copy kernel cannot run";
  }
};

TEST_F(SegmentCopy, ManySmallSegments) {
  std::mt19937_64 rng(11);
  const int64_t slot = 2048;
  const auto copies = random_segments(5000, slot, 1 << 20, rng);
  check_copy(copies, 1 << 20, 5000 * slot, 101);
}

TEST_F(SegmentCopy, FewLargeSegmentsSpanningManyTiles) {
  std::mt19937_64 rng(12);
  const int64_t slot = 8 * segment_copy_tile_bytes() + 4096;
  const auto copies = random_segments(6, slot, 4 * slot, rng);
  check_copy(copies, 4 * slot, 6 * slot, 102);
}

TEST_F(SegmentCopy, MixedSizesWithPartialTilesAndEmptyCopies) {
  std::mt19937_64 rng(13);
  const int64_t slot = 3 * segment_copy_tile_bytes() / 2;
  auto copies = random_segments(300, slot, 8 << 20, rng);
  copies.push_back({0, 300 * slot, 0});  // a zero-byte copy is allowed and moves nothing
  check_copy(copies, 8 << 20, 301 * slot, 103);
}

TEST_F(SegmentCopy, SingleSixteenByteSegment) {
  check_copy({{4096, 48, 16}}, 8192, 128, 104);
}

TEST_F(SegmentCopy, EmptyTableLaunchesNothing) {
  EXPECT_NO_THROW(segment_copy({nullptr, 0, 0}, nullptr, nullptr, nullptr));
}

}  // namespace
}  // namespace flowkv::kernels
