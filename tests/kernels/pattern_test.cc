// The device-side pattern that bench-transfer verifies with: the fill matches the host
// definition word for word, and the checker reports a correct transfer as clean but catches a
// missing write, a stray write outside the expected ranges, and data from the wrong source
// offset.
#include <gtest/gtest.h>

#include <vector>

#include "kernels/cuda_check.h"
#include "kernels/device_query.h"
#include "kernels/pattern.h"

namespace flowkv::kernels {
namespace {

struct DeviceMemory {
  explicit DeviceMemory(size_t bytes) { FLOWKV_CUDA_CHECK(cudaMalloc(&ptr, bytes)); }
  ~DeviceMemory() { cudaFree(ptr); }
  void* ptr = nullptr;
};

class Pattern : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_device_present()) GTEST_SKIP() << "no CUDA device: the pattern kernels cannot run";
  }
};

TEST(PatternWord, DependsOnSeedAndOffset) {
  EXPECT_NE(pattern_word(1, 0), pattern_word(1, 8));
  EXPECT_NE(pattern_word(1, 0), pattern_word(2, 0));
  EXPECT_EQ(pattern_word(7, 4096), pattern_word(7, 4096));
}

TEST_F(Pattern, FillMatchesHostDefinition) {
  const int64_t bytes = 1 << 20;
  DeviceMemory m(bytes);
  fill_pattern(m.ptr, bytes, 42, nullptr, 8 * 1000);
  std::vector<uint64_t> got(bytes / 8);
  FLOWKV_CUDA_CHECK(cudaMemcpy(got.data(), m.ptr, bytes, cudaMemcpyDeviceToHost));
  for (size_t w = 0; w < got.size(); ++w) {
    ASSERT_EQ(got[w], pattern_word(42, 8 * 1000 + 8 * w)) << "word " << w;
  }
}

// A destination of 64 KiB: two expected rows copied from a source pattern, the rest poison.
class PatternCheckTest : public Pattern {
 protected:
  static constexpr int64_t kBytes = 64 * 1024;
  static constexpr uint64_t kSrcSeed = 5, kPoison = 6;
  std::vector<SegmentRow> rows_ = {{4096, 1024, 2048, 0}, {64, 40960, 8192, 0}};

  // Builds the correct destination on the host, applies `corrupt`, uploads, checks.
  template <typename Corrupt>
  PatternCheck run(Corrupt corrupt) {
    std::vector<uint64_t> dst(kBytes / 8);
    for (size_t w = 0; w < dst.size(); ++w) dst[w] = pattern_word(kPoison, 8 * w);
    for (const SegmentRow& r : rows_) {
      for (int64_t k = 0; k < r.bytes; k += 8) dst[(r.dst_offset + k) / 8] = pattern_word(kSrcSeed, r.src_offset + k);
    }
    corrupt(dst);
    DeviceMemory d_dst(kBytes), d_rows(rows_.size() * sizeof(SegmentRow));
    FLOWKV_CUDA_CHECK(cudaMemcpy(d_dst.ptr, dst.data(), kBytes, cudaMemcpyHostToDevice));
    FLOWKV_CUDA_CHECK(cudaMemcpy(d_rows.ptr, rows_.data(), rows_.size() * sizeof(SegmentRow), cudaMemcpyHostToDevice));
    return count_pattern_mismatches(d_dst.ptr, kBytes, static_cast<const SegmentRow*>(d_rows.ptr),
                                    static_cast<int64_t>(rows_.size()), kSrcSeed, kPoison, nullptr);
  }
};

TEST_F(PatternCheckTest, CorrectDestinationIsClean) {
  const PatternCheck c = run([](std::vector<uint64_t>&) {});
  EXPECT_EQ(c.mismatched_words, 0);
  EXPECT_EQ(c.first_mismatch_offset, -1);
}

TEST_F(PatternCheckTest, MissingWriteIsCaught) {
  const PatternCheck c = run([](std::vector<uint64_t>& d) { d[(40960 + 800) / 8] = pattern_word(kPoison, 40960 + 800); });
  EXPECT_EQ(c.mismatched_words, 1);
  EXPECT_EQ(c.first_mismatch_offset, 40960 + 800);
}

TEST_F(PatternCheckTest, StrayWriteOutsideTheRowsIsCaught) {
  const PatternCheck c = run([](std::vector<uint64_t>& d) {
    d[3072 / 8] = pattern_word(kSrcSeed, 3072);  // just after the first row
    d[kBytes / 8 - 1] ^= 1;                      // the very last word
  });
  EXPECT_EQ(c.mismatched_words, 2);
  EXPECT_EQ(c.first_mismatch_offset, 3072);
}

TEST_F(PatternCheckTest, DataFromTheWrongSourceOffsetIsCaught) {
  const PatternCheck c = run([](std::vector<uint64_t>& d) {
    for (int64_t k = 0; k < 2048; k += 8) d[(1024 + k) / 8] = pattern_word(kSrcSeed, 4096 + 16 + k);
  });
  EXPECT_EQ(c.mismatched_words, 2048 / 8);
  EXPECT_EQ(c.first_mismatch_offset, 1024);
}

}  // namespace
}  // namespace flowkv::kernels
