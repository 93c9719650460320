// cuBLASLt GEMMs (Y = X W^T, bf16 in, f32 accumulate, bf16 or f32 out, optionally accumulating
// into Y) against a double-precision host reference, and the batch invariance the executor's
// token equality rests on: under the fixed-per-shape policy a row of Y is bit for bit the same
// whether it is computed alone, in a small batch or in a large one.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "core/base/error.h"
#include "kernels/gemm.h"
#include "tests/kernels/device_test_util.h"

namespace flowkv::kernels {
namespace {

using test::DeviceArray;
using test::from_bf16;

constexpr int64_t kWorkspace = int64_t{32} << 20;

class Gemm : public ::testing::Test {
 protected:
  void SetUp() override { FLOWKV_SKIP_WITHOUT_GPU("cuBLASLt"); }
};

const GemmShape kShapes[] = {
    {256, 128, GemmOutput::kBf16, false},
    {136, 72, GemmOutput::kBf16, false},
    {1000, 512, GemmOutput::kF32, false},
    {384, 256, GemmOutput::kF32, true},
};

std::shared_ptr<const GemmAlgoTable> fixed_table() {
  CublasLtHandle handle;
  auto table = std::make_shared<GemmAlgoTable>();
  for (const GemmShape& s : kShapes) table->emplace(s, choose_gemm_algo(handle.get(), s, 4096, kWorkspace));
  return table;
}

// Y (as double) for rows of x, given the initial Y for accumulating shapes.
std::vector<double> reference(const GemmShape& s, const std::vector<uint16_t>& x, int64_t m,
                              const std::vector<uint16_t>& w, const std::vector<float>& y0) {
  std::vector<double> y(size_t(m * s.n));
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t c = 0; c < s.n; ++c) {
      double acc = s.accumulate ? y0[size_t(r * s.n + c)] : 0.0;
      for (int64_t i = 0; i < s.k; ++i) acc += double(from_bf16(x[size_t(r * s.k + i)])) * from_bf16(w[size_t(c * s.k + i)]);
      y[size_t(r * s.n + c)] = acc;
    }
  }
  return y;
}

// Runs the GEMM and returns Y as floats (bf16 outputs widened).
std::vector<float> run(GemmRunner& runner, const GemmShape& s, const std::vector<uint16_t>& x,
                       int64_t m, const DeviceArray<uint16_t>& d_w, const std::vector<float>& y0) {
  DeviceArray<uint16_t> d_x(x);
  const auto* xp = reinterpret_cast<const __nv_bfloat16*>(d_x.get());
  const auto* wp = reinterpret_cast<const __nv_bfloat16*>(d_w.get());
  std::vector<float> out(size_t(m * s.n));
  if (s.output == GemmOutput::kF32) {
    DeviceArray<float> d_y(y0);
    runner.run(s, xp, m, wp, d_y.get(), nullptr);
    FLOWKV_CUDA_CHECK(cudaDeviceSynchronize());
    out = d_y.download();
  } else {
    DeviceArray<uint16_t> d_y(size_t(m * s.n));
    runner.run(s, xp, m, wp, d_y.get(), nullptr);
    FLOWKV_CUDA_CHECK(cudaDeviceSynchronize());
    const auto y = d_y.download();
    for (size_t i = 0; i < y.size(); ++i) out[i] = from_bf16(y[i]);
  }
  return out;
}

TEST_F(Gemm, MatchesHostReferenceUnderBothPolicies) {
  std::mt19937_64 rng(31);
  for (bool fixed : {true, false}) {
    GemmRunner runner(fixed ? fixed_table() : nullptr, kWorkspace);
    for (const GemmShape& s : kShapes) {
      const auto w = test::random_bf16(size_t(s.n * s.k), rng, 1.0f / std::sqrt(float(s.k)));
      DeviceArray<uint16_t> d_w(w);
      for (int64_t m : {1, 3, 64, 257}) {
        SCOPED_TRACE(testing::Message() << (fixed ? "fixed" : "heuristic") << " n " << s.n << " k " << s.k << " m " << m);
        const auto x = test::random_bf16(size_t(m * s.k), rng, 2.0f);
        std::vector<float> y0(size_t(m * s.n));
        for (auto& v : y0) v = std::uniform_real_distribution<float>(-1, 1)(rng);
        const auto got = run(runner, s, x, m, d_w, y0);
        const auto want = reference(s, x, m, w, y0);
        const double rel = s.output == GemmOutput::kBf16 ? 8e-3 : 1e-4;
        for (size_t i = 0; i < got.size(); ++i) {
          ASSERT_NEAR(got[i], want[i], rel * std::abs(want[i]) + 1e-3) << i;
        }
      }
    }
    EXPECT_EQ(runner.fallbacks(), 0);
  }
}

// Regression guard for token equality: a row's result does not depend on the other rows.
TEST_F(Gemm, FixedAlgorithmIsBatchInvariant) {
  std::mt19937_64 rng(32);
  GemmRunner runner(fixed_table(), kWorkspace);
  for (const GemmShape& s : kShapes) {
    SCOPED_TRACE(testing::Message() << "n " << s.n << " k " << s.k);
    const auto w = test::random_bf16(size_t(s.n * s.k), rng, 1.0f / std::sqrt(float(s.k)));
    DeviceArray<uint16_t> d_w(w);
    const int64_t m = 1200;
    const auto x = test::random_bf16(size_t(m * s.k), rng, 2.0f);
    std::vector<float> y0(size_t(m * s.n));
    for (auto& v : y0) v = std::uniform_real_distribution<float>(-1, 1)(rng);
    const auto all = run(runner, s, x, m, d_w, y0);
    for (int64_t sub : {int64_t{1}, int64_t{5}, int64_t{64}, int64_t{300}}) {
      // Rows r0, r0 + 1, ... of the big batch, computed as a batch of `sub` rows.
      const int64_t r0 = (sub * 7) % (m - sub);
      std::vector<uint16_t> xs(x.begin() + r0 * s.k, x.begin() + (r0 + sub) * s.k);
      std::vector<float> ys(y0.begin() + r0 * s.n, y0.begin() + (r0 + sub) * s.n);
      const auto part = run(runner, s, xs, sub, d_w, ys);
      for (int64_t i = 0; i < sub * s.n; ++i) {
        ASSERT_EQ(part[size_t(i)], all[size_t(r0 * s.n + i)]) << "batch of " << sub << ", row " << r0 + i / s.n;
      }
    }
  }
  EXPECT_EQ(runner.fallbacks(), 0);
}

TEST_F(Gemm, DescribesTheAlgorithmAndRefusesMisalignedPointers) {
  CublasLtHandle handle;
  const GemmAlgo a = choose_gemm_algo(handle.get(), kShapes[0], 4096, kWorkspace);
  EXPECT_FALSE(a.description.empty());
  GemmRunner runner(nullptr, kWorkspace);
  DeviceArray<uint16_t> buf(4096);
  const auto* p = reinterpret_cast<const __nv_bfloat16*>(buf.get());
  EXPECT_THROW(runner.run(kShapes[0], p + 8, 1, p, buf.get(), nullptr), core::Error);
}

}  // namespace
}  // namespace flowkv::kernels
