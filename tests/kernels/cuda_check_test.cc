// FLOWKV_CUDA_CHECK turns a failing CUDA call into one core::Error of kind kRuntime that names
// the expression, the file and line and CUDA's own message. Runs with or without a GPU: an
// out-of-range device is an error either way.
#include <gtest/gtest.h>

#include <string>

#include "core/base/error.h"
#include "kernels/cuda_check.h"
#include "kernels/segment_copy.h"

namespace flowkv::kernels {
namespace {

TEST(CudaCheck, FailingCallThrowsRuntimeErrorNamingExpressionAndLocation) {
  try {
    FLOWKV_CUDA_CHECK(cudaSetDevice(1 << 20));
    FAIL() << "cudaSetDevice(1 << 20) should have failed";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::kRuntime);
    EXPECT_EQ(e.exit_code(), 1);
    const std::string what = e.what();
    EXPECT_NE(what.find("cudaSetDevice(1 << 20)"), std::string::npos) << what;
    EXPECT_NE(what.find("cuda_check_test.cc"), std::string::npos) << what;
    EXPECT_NE(what.find("cudaError"), std::string::npos) << what;  // the library's name for it
  }
  cudaGetLastError();
}

TEST(CudaCheck, SuccessDoesNotThrow) {
  EXPECT_NO_THROW(FLOWKV_CUDA_CHECK(cudaSuccess));
}

// The host half of the fused copy: tiles are counted per segment and misaligned copies are
// refused before anything reaches the device.
TEST(SegmentTable, CountsTilesPerSegmentAndDropsEmptyCopies) {
  const int64_t tile = segment_copy_tile_bytes();
  const std::vector<core::Copy> copies = {
      {0, 0, 16}, {64, 4096, 0}, {1024, 8192, tile}, {tile * 4, tile * 8, 2 * tile + 16}};
  const SegmentTable table = build_segment_table(copies);
  ASSERT_EQ(table.rows.size(), 3u);
  EXPECT_EQ(table.rows[0].first_tile, 0);
  EXPECT_EQ(table.rows[1].first_tile, 1);
  EXPECT_EQ(table.rows[2].first_tile, 2);
  EXPECT_EQ(table.num_tiles, 2 + 3);
  EXPECT_EQ(table.bytes, 16 + tile + 2 * tile + 16);
  EXPECT_EQ(table.rows[2].src_offset, tile * 4);
  EXPECT_EQ(table.rows[2].dst_offset, tile * 8);
}

TEST(SegmentTable, RejectsMisalignedCopyNamingIt) {
  const std::vector<core::Copy> copies = {{0, 0, 32}, {8, 0, 32}};
  try {
    build_segment_table(copies);
    FAIL() << "a copy at offset 8 should be refused";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("copy #1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(build_segment_table(std::vector<core::Copy>{{0, 0, 24}}), core::Error);
}

}  // namespace
}  // namespace flowkv::kernels
