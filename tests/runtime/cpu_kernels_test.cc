// The CPU kernels' fixed floating-point order: a matmul element is bit-identical to dot() of its
// row and token, whatever the shape, the tile, the threads or the code path (AVX2 or
// portable); the invariant the executor's token equality rests on.
#include "runtime/cpu/kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numbers>
#include <random>
#include <vector>

#include "runtime/cpu/thread_pool.h"

namespace flowkv::runtime::cpu {
namespace {

std::vector<float> random_values(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);  // values only; the order is under test
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

TEST(CpuKernels, DotHasTheDocumentedOrder) {
  const std::vector<float> a = random_values(37, 1), b = random_values(37, 2);
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < 37; ++i) lane[i % 8] += a[i] * b[i];
  // The zero padding of the tail adds +0 to lanes 5..7.
  for (int l = 5; l < 8; ++l) lane[l] += 0.0f;
  const float expected = ((lane[0] + lane[4]) + (lane[2] + lane[6])) +
                         ((lane[1] + lane[5]) + (lane[3] + lane[7]));
  EXPECT_EQ(dot(a.data(), b.data(), 37), expected);
  // And it is not the naive left-to-right sum on these values (the order is observable).
  float naive = 0;
  for (int i = 0; i < 37; ++i) naive += a[i] * b[i];
  EXPECT_NE(naive, expected);
}

TEST(CpuKernels, MatmulElementsEqualDotWhateverTheShapePathAndThreads) {
  ThreadPool pool(2);
  for (const int64_t in : {8, 37, 128}) {
    for (const int64_t n : {1, 2, 5, 50, 97}) {
      const int64_t out = 133;
      const std::vector<float> x = random_values(static_cast<size_t>(n * in), in + n);
      const std::vector<float> w = random_values(static_cast<size_t>(out * in), in * 3);
      std::vector<float> expected(static_cast<size_t>(n * out));
      for (int64_t t = 0; t < n; ++t) {
        for (int64_t r = 0; r < out; ++r) {
          expected[t * out + r] = dot(&x[t * in], &w[r * in], in);
        }
      }
      for (const SimdPath path : {SimdPath::kAvx512, SimdPath::kAvx2, SimdPath::kPortable}) {
        set_simd_limit(path);
        for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
          std::vector<float> y(static_cast<size_t>(n * out));
          matmul(x.data(), in, n, w.data(), out, in, y.data(), out, p);
          EXPECT_TRUE(same_bits(y, expected)) << "in " << in << " n " << n << " path "
                                              << to_string(path) << " pool " << (p != nullptr);
        }
        // One token at a time gives the same rows as the whole batch.
        for (int64_t t = 0; t < n; t += 7) {
          std::vector<float> row(static_cast<size_t>(out));
          matmul(&x[t * in], in, 1, w.data(), out, in, row.data(), out);
          EXPECT_EQ(std::memcmp(row.data(), &expected[t * out], out * 4), 0);
        }
      }
      set_simd_limit(SimdPath::kAvx512);
    }
  }
}

// K transposed: kt[d][j] = k[j][d], stride scores_stride(ctx).
std::vector<float> transpose(const std::vector<float>& k, int64_t ctx, int32_t hd) {
  const int64_t stride = scores_stride(ctx);
  std::vector<float> kt(static_cast<size_t>(hd * stride), 0.0f);
  for (int64_t j = 0; j < ctx; ++j) {
    for (int32_t d = 0; d < hd; ++d) kt[d * stride + j] = k[j * hd + d];
  }
  return kt;
}

TEST(CpuKernels, AttentionHasTheDocumentedOrder) {
  const int32_t hd = 32;
  const int64_t ctx = 21;
  const float scale = 0.17f;
  const std::vector<float> q = random_values(hd, 15);
  const std::vector<float> k = random_values(ctx * hd, 16), v = random_values(ctx * hd, 17);
  // Scores in increasing d, softmax with fixed_exp, weights summed in dot()'s lanes, the
  // weighted sum in increasing j.
  std::vector<float> w(ctx);
  float m = -1e30f;
  for (int64_t j = 0; j < ctx; ++j) {
    float s = 0.0f;
    for (int32_t d = 0; d < hd; ++d) s += q[d] * k[j * hd + d];
    w[j] = s * scale;
    m = std::max(m, w[j]);
  }
  for (float& x : w) x = fixed_exp(x - m);
  const std::vector<float> ones(ctx, 1.0f);
  const float total = dot(w.data(), ones.data(), ctx);
  std::vector<float> expected(hd, 0.0f);
  for (int64_t j = 0; j < ctx; ++j) {
    for (int32_t d = 0; d < hd; ++d) expected[d] += w[j] * v[j * hd + d];
  }
  for (float& x : expected) x /= total;
  const std::vector<float> kt = transpose(k, ctx, hd);
  for (const SimdPath path : {SimdPath::kAvx512, SimdPath::kAvx2, SimdPath::kPortable}) {
    set_simd_limit(path);
    std::vector<float> scores(scores_stride(ctx)), out(hd);
    attend(q.data(), 1, kt.data(), scores_stride(ctx), v.data(), ctx, hd, scale, scores.data(),
           out.data());
    EXPECT_TRUE(same_bits(out, expected)) << "path " << to_string(path);
  }
  set_simd_limit(SimdPath::kAvx512);
}

TEST(CpuKernels, AttentionOfATokenIgnoresLaterPositionsAndTheGroupSize) {
  const int32_t hd = 32;
  const int64_t ctx = 40;
  const std::vector<float> q = random_values(4 * hd, 5);
  const std::vector<float> k = random_values(ctx * hd, 6), v = random_values(ctx * hd, 7);
  const std::vector<float> kt = transpose(k, ctx, hd);
  const int64_t stride = scores_stride(ctx);
  std::vector<float> scores(4 * stride), out4(4 * hd), out1(hd);
  attend(q.data(), 4, kt.data(), stride, v.data(), 25, hd, 0.17f, scores.data(), out4.data());
  for (int g = 0; g < 4; ++g) {
    attend(&q[g * hd], 1, kt.data(), stride, v.data(), 25, hd, 0.17f, scores.data(), out1.data());
    EXPECT_EQ(std::memcmp(out1.data(), &out4[g * hd], hd * 4), 0) << g;
  }
  // The same context read through a wider matrix (more positions present) gives the same bits.
  std::vector<float> k_short(k.begin(), k.begin() + 25 * hd);
  const std::vector<float> kt_short = transpose(k_short, 25, hd);
  attend(q.data(), 1, kt_short.data(), scores_stride(25), v.data(), 25, hd, 0.17f, scores.data(),
         out1.data());
  EXPECT_EQ(std::memcmp(out1.data(), out4.data(), hd * 4), 0);
  // Changing a position past the context changes nothing; one inside does.
  std::vector<float> v2 = v;
  v2[30 * hd] += 1.0f;
  attend(q.data(), 1, kt.data(), stride, v2.data(), 25, hd, 0.17f, scores.data(), out1.data());
  EXPECT_EQ(std::memcmp(out1.data(), out4.data(), hd * 4), 0);
  v2[3 * hd] += 1.0f;
  attend(q.data(), 1, kt.data(), stride, v2.data(), 25, hd, 0.17f, scores.data(), out1.data());
  EXPECT_NE(std::memcmp(out1.data(), out4.data(), hd * 4), 0);
}

TEST(CpuKernels, FixedExpIsAccurateAndClamped) {
  for (const float x : {-10.0f, -1.0f, -0.3f, 0.0f, 0.5f, 1.0f, 7.25f, 40.0f}) {
    EXPECT_NEAR(fixed_exp(x) / std::exp(x), 1.0f, 3e-7f) << x;
  }
  EXPECT_EQ(fixed_exp(0.0f), 1.0f);
  EXPECT_GT(fixed_exp(-200.0f), 0.0f);  // clamped to e^-87.3, a normal float
  EXPECT_TRUE(std::isfinite(fixed_exp(1000.0f)));
}

TEST(CpuKernels, ArgmaxTiesGoToTheLowestIndex) {
  const std::vector<float> x = {1.0f, 3.0f, -2.0f, 3.0f, 3.0f};
  EXPECT_EQ(argmax(x.data(), 5), 1);
  EXPECT_EQ(argmax(x.data() + 2, 3), 1);
}

TEST(CpuKernels, Bf16KvRoundsToNearestEven) {
  // 1 + 2^-8 is halfway between two bf16 values: even rounds down; 1 + 3 * 2^-8 rounds up.
  const std::vector<float> in = {1.0f + 1.0f / 256, 1.0f + 3.0f / 256, -2.5f};
  std::vector<std::byte> kv(6);
  store_kv(in.data(), kv.data(), 3, 2);
  std::vector<float> back(3);
  load_kv(kv.data(), back.data(), 3, 2);
  EXPECT_EQ(back[0], 1.0f);
  EXPECT_EQ(back[1], 1.0f + 4.0f / 256);
  EXPECT_EQ(back[2], -2.5f);
}

TEST(CpuKernels, Llama3RopeScalingFollowsTransformers) {
  // Expected values from a float64 Python transcription of transformers'
  // _compute_llama3_parameters for Llama 3.1 8B (head_dim 128, theta 500000, factor 8, low 1,
  // high 4, original 8192): i = 28 is a high frequency (wavelength 1956 < 2048, unchanged),
  // i = 31 a medium one (3619: blended), i = 40 a low one (22911 > 8192: divided by 8).
  const core::ModelSpec s = core::find_model("llama-3.1-8b");
  const std::vector<float> f = rope_inv_freq(s);
  ASSERT_EQ(f.size(), 64u);
  EXPECT_FLOAT_EQ(f[28], 0.0032114459947525913f);
  EXPECT_FLOAT_EQ(f[31], 0.0008567514129196321f);
  EXPECT_FLOAT_EQ(f[40], 3.428102195952591e-05f);
  core::ModelSpec plain = s;
  plain.rope_scaling.llama3 = false;
  EXPECT_FLOAT_EQ(rope_inv_freq(plain)[31], 0.0017360467021768655f);
  EXPECT_FLOAT_EQ(rope_inv_freq(plain)[40], 0.0002742481756762073f);
}

TEST(CpuKernels, RopeRotatesHalvesAsHuggingFace) {
  // Pairs (i, i + head_dim / 2): position 0 is the identity; a quarter turn maps (x1, x2) to
  // (-x2, x1).
  std::vector<float> v = {1, 2, 3, 4};
  const float inv[2] = {1.0f, 0.5f};
  float c[2], sn[2];
  rope_angles(0, inv, 2, c, sn);
  apply_rope(v.data(), c, sn, 4);
  EXPECT_EQ(v, (std::vector<float>{1, 2, 3, 4}));
  const float quarter[2] = {std::numbers::pi_v<float> / 2, 0.0f};
  rope_angles(1, quarter, 2, c, sn);
  apply_rope(v.data(), c, sn, 4);
  EXPECT_NEAR(v[0], -3.0f, 1e-6);  // x1 cos - x2 sin, x2 = v[2]
  EXPECT_NEAR(v[2], 1.0f, 1e-6);   // x2 cos + x1 sin
  EXPECT_EQ(v[1], 2.0f);           // angle 0
  EXPECT_EQ(v[3], 4.0f);
}

}  // namespace
}  // namespace flowkv::runtime::cpu
