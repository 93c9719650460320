// The executor's row-wise kernels against CPU references on random data: embedding gather,
// RMSNorm (with and without a row gather), SwiGLU, argmax (ties to the lowest index, NaN), the
// random weight fill (bit for bit the host function) and the f32 -> bf16 upload conversion.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "kernels/argmax.h"
#include "kernels/embedding.h"
#include "kernels/random_fill.h"
#include "kernels/rms_norm.h"
#include "kernels/swiglu.h"
#include "runtime/model/random_weights.h"
#include "tests/kernels/device_test_util.h"

namespace flowkv::kernels {
namespace {

using test::DeviceArray;
using test::from_bf16;
using test::round_bf16;

class ElementwiseOps : public ::testing::Test {
 protected:
  void SetUp() override { FLOWKV_SKIP_WITHOUT_GPU("the executor's element-wise kernels"); }
};

TEST_F(ElementwiseOps, EmbeddingGathersRowsAsFloat) {
  std::mt19937_64 rng(1);
  const int32_t vocab = 50, hidden = 136;  // hidden: several 8-wide groups, not a power of two
  const auto table = test::random_bf16(size_t{vocab} * hidden, rng);
  const std::vector<int32_t> tokens = {3, 0, 49, 3, 17};
  DeviceArray<uint16_t> d_table(table);
  DeviceArray<int32_t> d_tokens(tokens);
  DeviceArray<float> d_out(tokens.size() * hidden);
  embed_tokens(reinterpret_cast<const __nv_bfloat16*>(d_table.get()), d_tokens.get(),
               static_cast<int64_t>(tokens.size()), hidden, d_out.get(), nullptr);
  const auto out = d_out.download();
  for (size_t t = 0; t < tokens.size(); ++t) {
    for (int32_t i = 0; i < hidden; ++i) {
      ASSERT_EQ(out[t * hidden + i], from_bf16(table[size_t(tokens[t]) * hidden + i])) << t << " " << i;
    }
  }
}

std::vector<float> reference_rms_norm(const std::vector<float>& x, int64_t row, int32_t hidden,
                                      const std::vector<uint16_t>& w, float eps) {
  double ss = 0;
  for (int32_t i = 0; i < hidden; ++i) ss += double(x[row * hidden + i]) * x[row * hidden + i];
  const double inv = 1.0 / std::sqrt(ss / hidden + eps);
  std::vector<float> out(static_cast<size_t>(hidden));
  for (int32_t i = 0; i < hidden; ++i) out[i] = float(x[row * hidden + i] * inv * from_bf16(w[i]));
  return out;
}

TEST_F(ElementwiseOps, RmsNormMatchesReferenceAndGathersRows) {
  std::mt19937_64 rng(2);
  std::uniform_real_distribution<float> u(-3.0f, 3.0f);
  const float eps = 1e-5f;
  for (int32_t hidden : {8, 128, 4096, 5000}) {
    SCOPED_TRACE(hidden);
    const int64_t rows = 7;
    std::vector<float> x(size_t(rows) * hidden);
    for (auto& v : x) v = u(rng);
    const auto w = test::random_bf16(size_t(hidden), rng, 2.0f);
    DeviceArray<float> d_x(x);
    DeviceArray<uint16_t> d_w(w);
    DeviceArray<uint16_t> d_out(size_t(rows) * hidden);
    const std::vector<int32_t> gather = {6, 0, 3};
    DeviceArray<int32_t> d_rows(gather);
    DeviceArray<uint16_t> d_gathered(gather.size() * hidden);
    auto* wp = reinterpret_cast<const __nv_bfloat16*>(d_w.get());
    rms_norm(d_x.get(), nullptr, rows, hidden, wp, eps, reinterpret_cast<__nv_bfloat16*>(d_out.get()), nullptr);
    rms_norm(d_x.get(), d_rows.get(), int64_t(gather.size()), hidden, wp, eps,
             reinterpret_cast<__nv_bfloat16*>(d_gathered.get()), nullptr);
    const auto out = d_out.download();
    const auto gathered = d_gathered.download();
    for (int64_t r = 0; r < rows; ++r) {
      const auto want = reference_rms_norm(x, r, hidden, w, eps);
      for (int32_t i = 0; i < hidden; ++i) {
        const float got = from_bf16(out[size_t(r) * hidden + i]);
        ASSERT_NEAR(got, want[i], 1e-2f * std::abs(want[i]) + 1e-3f) << r << " " << i;
      }
    }
    // A gathered row is bit for bit the row normalised in place: batch invariance of the norm.
    for (size_t g = 0; g < gather.size(); ++g) {
      for (int32_t i = 0; i < hidden; ++i) {
        ASSERT_EQ(gathered[g * hidden + i], out[size_t(gather[g]) * hidden + i]);
      }
    }
  }
}

TEST_F(ElementwiseOps, SwigluMatchesReference) {
  std::mt19937_64 rng(3);
  const int64_t tokens = 5;
  const int32_t inter = 264;
  const auto gu = test::random_bf16(size_t(tokens) * 2 * inter, rng, 6.0f);
  DeviceArray<uint16_t> d_gu(gu);
  DeviceArray<uint16_t> d_out(size_t(tokens) * inter);
  swiglu(reinterpret_cast<const __nv_bfloat16*>(d_gu.get()), tokens, inter,
         reinterpret_cast<__nv_bfloat16*>(d_out.get()), nullptr);
  const auto out = d_out.download();
  for (int64_t t = 0; t < tokens; ++t) {
    for (int32_t i = 0; i < inter; ++i) {
      const double g = from_bf16(gu[size_t(t) * 2 * inter + i]);
      const double up = from_bf16(gu[size_t(t) * 2 * inter + inter + i]);
      const double want = g / (1.0 + std::exp(-g)) * up;
      ASSERT_NEAR(from_bf16(out[size_t(t) * inter + i]), want, 1e-2 * std::abs(want) + 1e-4);
    }
  }
}

TEST_F(ElementwiseOps, ArgmaxTakesLowestIndexOnTiesAndSkipsNan) {
  const int32_t vocab = 3000;
  std::vector<float> logits(4 * size_t(vocab), -1.0f);
  logits[0 * vocab + 2999] = 5.0f;                          // a single maximum at the end
  logits[1 * vocab + 700] = 2.0f;                           // a tie: 700 and 1800
  logits[1 * vocab + 1800] = 2.0f;
  for (int32_t i = 0; i < vocab; ++i) logits[2 * size_t(vocab) + i] = 0.5f;  // all equal
  logits[3 * vocab + 10] = std::numeric_limits<float>::quiet_NaN();
  logits[3 * vocab + 11] = 1.0f;
  DeviceArray<float> d_logits(logits);
  DeviceArray<int32_t> d_out(4);
  argmax_rows(d_logits.get(), 4, vocab, d_out.get(), nullptr);
  EXPECT_EQ(d_out.download(), (std::vector<int32_t>{2999, 700, 0, 11}));
}

TEST_F(ElementwiseOps, ArgmaxMatchesHostOnRandomRows) {
  std::mt19937_64 rng(4);
  std::normal_distribution<float> n(0.0f, 2.0f);
  const int32_t vocab = 128256;
  const int64_t rows = 9;
  std::vector<float> logits(size_t(rows) * vocab);
  for (auto& v : logits) v = round_bf16(n(rng));  // bf16 values: ties happen
  DeviceArray<float> d_logits(logits);
  DeviceArray<int32_t> d_out{static_cast<size_t>(rows)};
  argmax_rows(d_logits.get(), rows, vocab, d_out.get(), nullptr);
  const auto out = d_out.download();
  for (int64_t r = 0; r < rows; ++r) {
    int32_t best = 0;
    for (int32_t i = 1; i < vocab; ++i) {
      if (logits[size_t(r) * vocab + i] > logits[size_t(r) * vocab + best]) best = i;
    }
    EXPECT_EQ(out[size_t(r)], best) << r;
  }
}

// The device fill is the host function, bit for bit, for every tensor kind's scale and offset.
TEST_F(ElementwiseOps, RandomFillEqualsHostFunctionBitForBit) {
  const uint64_t seed = 0xC0FFEE;
  struct Case {
    runtime::WeightTensor kind;
    int32_t layer;
    int64_t count;
  };
  const Case cases[] = {{runtime::WeightTensor::kEmbed, 0, 100003},
                        {runtime::WeightTensor::kAttnNorm, 3, 4096},
                        {runtime::WeightTensor::kQkv, 1, 65536 + 7},
                        {runtime::WeightTensor::kLmHead, 0, 1000}};
  for (const Case& c : cases) {
    const runtime::WeightInit init = runtime::weight_init(c.kind, 4096, 4096, 14336);
    const uint32_t id = runtime::tensor_id(c.kind, c.layer);
    DeviceArray<uint16_t> d(static_cast<size_t>(c.count));
    fill_random_weights(reinterpret_cast<__nv_bfloat16*>(d.get()), c.count, seed, id, init.scale,
                        init.offset, nullptr);
    const auto got = d.download();
    for (int64_t i = 0; i < c.count; ++i) {
      const float want = runtime::random_weight(seed, id, uint64_t(i), init.scale, init.offset);
      ASSERT_EQ(from_bf16(got[size_t(i)]), want) << "tensor " << id << " element " << i;
    }
  }
}

TEST_F(ElementwiseOps, ConvertRoundsToNearestEven) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<float> u(-100.0f, 100.0f);
  std::vector<float> in(10007);
  for (auto& v : in) v = u(rng);
  in[0] = 1.0f + 1.0f / 256.0f;  // exactly halfway between two bf16: rounds to even (1.0)
  DeviceArray<float> d_in(in);
  DeviceArray<uint16_t> d_out(in.size());
  convert_f32_to_bf16(d_in.get(), int64_t(in.size()), reinterpret_cast<__nv_bfloat16*>(d_out.get()), nullptr);
  const auto out = d_out.download();
  EXPECT_EQ(from_bf16(out[0]), 1.0f);
  for (size_t i = 0; i < in.size(); ++i) ASSERT_EQ(out[i], test::to_bf16(in[i])) << i;
}

}  // namespace
}  // namespace flowkv::kernels
