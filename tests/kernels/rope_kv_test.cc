// RoPE (rotate_half convention, with and without the llama3 frequency scaling, with and without a
// q/k/v bias) and the K/V write into both pool layouts, against CPU references on random data.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <random>
#include <vector>

#include "core/kv/kv_layout.h"
#include "core/spec/model_spec.h"
#include "kernels/kv_write.h"
#include "kernels/rope.h"
#include "tests/kernels/device_test_util.h"

namespace flowkv::kernels {
namespace {

using test::DeviceArray;
using test::from_bf16;

core::ModelSpec rope_spec(int32_t head_dim, bool llama3) {
  core::ModelSpec s;
  s.head_dim = head_dim;
  s.rope_theta = 500000.0;
  s.rope_scaling.llama3 = llama3;
  s.rope_scaling.factor = 8.0;
  s.rope_scaling.low_freq_factor = 1.0;
  s.rope_scaling.high_freq_factor = 4.0;
  s.rope_scaling.original_max_position_embeddings = 8192;
  return s;
}

// Hugging Face's _compute_llama3_parameters, transcribed step by step.
std::vector<double> reference_inv_freq(const core::ModelSpec& s) {
  const int dim = s.head_dim;
  std::vector<double> inv;
  for (int i = 0; i < dim; i += 2) inv.push_back(1.0 / std::pow(s.rope_theta, double(i) / dim));
  if (!s.rope_scaling.llama3) return inv;
  const double factor = s.rope_scaling.factor;
  const double low = s.rope_scaling.low_freq_factor, high = s.rope_scaling.high_freq_factor;
  const double old_len = double(s.rope_scaling.original_max_position_embeddings);
  const double low_wavelen = old_len / low, high_wavelen = old_len / high;
  for (double& f : inv) {
    const double wavelen = 2 * std::numbers::pi / f;
    if (wavelen < high_wavelen) continue;                    // high frequency: unchanged
    if (wavelen > low_wavelen) { f = f / factor; continue; } // low frequency: scaled
    const double smooth = (old_len / wavelen - low) / (high - low);
    f = (1 - smooth) * f / factor + smooth * f;
  }
  return inv;
}

TEST(RopeFrequencies, Llama3ScalingAsHuggingFace) {
  for (int32_t d : {32, 64, 128}) {
    for (bool llama3 : {false, true}) {
      const auto spec = rope_spec(d, llama3);
      const auto got = rope_inv_freq(spec);
      const auto want = reference_inv_freq(spec);
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-15 * want[i]) << i;
    }
  }
  // Llama-3.1-8B: the first frequency is untouched, the last divided by the factor.
  const auto f = rope_inv_freq(rope_spec(128, true));
  EXPECT_DOUBLE_EQ(f.front(), 1.0);
  EXPECT_NEAR(f.back(), 1.0 / std::pow(500000.0, 126.0 / 128) / 8.0, 1e-18);
}

class RopeKv : public ::testing::Test {
 protected:
  void SetUp() override { FLOWKV_SKIP_WITHOUT_GPU("RoPE and the KV write"); }
};

TEST_F(RopeKv, RopeWithBiasMatchesReference) {
  std::mt19937_64 rng(11);
  for (int32_t d : {32, 64, 128}) {
    for (bool llama3 : {false, true}) {
      for (bool with_bias : {false, true}) {
        SCOPED_TRACE(testing::Message() << "head_dim " << d << " llama3 " << llama3 << " bias " << with_bias);
        const int32_t heads = 4, kv_heads = 2, width = (heads + 2 * kv_heads) * d;
        const std::vector<int32_t> positions = {0, 1, 17, 1000, 8191, 8192, 70000, 131071};
        const int64_t n = int64_t(positions.size());
        const auto qkv = test::random_bf16(size_t(n) * width, rng, 2.0f);
        const auto bias = test::random_bf16(size_t(width), rng, 0.5f);
        const auto inv = rope_inv_freq(rope_spec(d, llama3));
        DeviceArray<uint16_t> d_qkv(qkv);
        DeviceArray<uint16_t> d_bias(bias);
        DeviceArray<int32_t> d_pos(positions);
        DeviceArray<double> d_inv(inv);
        qkv_bias_rope(reinterpret_cast<__nv_bfloat16*>(d_qkv.get()), n, heads, kv_heads, d,
                      with_bias ? reinterpret_cast<const __nv_bfloat16*>(d_bias.get()) : nullptr,
                      d_pos.get(), d_inv.get(), nullptr);
        const auto got = d_qkv.download();
        for (int64_t t = 0; t < n; ++t) {
          for (int32_t h = 0; h < heads + 2 * kv_heads; ++h) {
            for (int32_t i = 0; i < d; ++i) {
              auto at = [&](int32_t j) {
                const size_t k = size_t(t) * width + size_t(h) * d + j;
                return double(from_bf16(qkv[k])) + (with_bias ? from_bf16(bias[size_t(h) * d + j]) : 0.0);
              };
              double want = at(i);
              if (h < heads + kv_heads) {  // q and k heads rotate, v heads do not
                const int32_t pair = i < d / 2 ? i : i - d / 2;
                const double angle = double(positions[size_t(t)]) * inv[size_t(pair)];
                want = i < d / 2 ? at(i) * std::cos(angle) - at(i + d / 2) * std::sin(angle)
                                 : at(i) * std::cos(angle) + at(i - d / 2) * std::sin(angle);
              }
              const double g = from_bf16(got[size_t(t) * width + size_t(h) * d + i]);
              ASSERT_NEAR(g, want, 8e-3 * std::abs(want) + 2e-3) << "token " << t << " head " << h << " dim " << i;
            }
          }
        }
      }
    }
  }
}

TEST_F(RopeKv, KvWriteLandsWhereTheLayoutSaysInBothLayouts) {
  std::mt19937_64 rng(12);
  for (core::LayoutKind kind : {core::LayoutKind::kPagedPerLayer, core::LayoutKind::kBlockContiguous}) {
    for (int32_t d : {32, 128}) {
      SCOPED_TRACE(testing::Message() << core::to_string(kind) << " head_dim " << d);
      core::KvLayout layout;
      layout.kind = kind;
      layout.geometry.num_layers = 3;
      layout.geometry.num_kv_heads = 2;
      layout.geometry.head_dim = d;
      layout.geometry.block_size = 16;
      layout.geometry.dtype_bytes = 2;
      layout.geometry.num_blocks = 10;
      const int32_t heads = 4, layer = 1;
      const int32_t width = (heads + 2 * layout.geometry.num_kv_heads) * d;
      const std::vector<int32_t> positions = {0, 5, 15, 16, 33, 47};
      const std::vector<int64_t> blocks = {7, 7, 7, 2, 9, 9};  // block of each token
      const int64_t n = int64_t(positions.size());
      const auto qkv = test::random_bf16(size_t(n) * width, rng);
      const size_t pool_elems = size_t(layout.geometry.pool_bytes() / 2);
      std::vector<uint16_t> pool(pool_elems, 0xABCD);  // poison: untouched elements keep it
      DeviceArray<uint16_t> d_pool(pool);
      DeviceArray<uint16_t> d_qkv(qkv);
      DeviceArray<int32_t> d_pos(positions);
      DeviceArray<int64_t> d_blocks(blocks);
      write_kv(reinterpret_cast<const __nv_bfloat16*>(d_qkv.get()), n, heads, d_pos.get(),
               d_blocks.get(), layout, layer, reinterpret_cast<std::byte*>(d_pool.get()), nullptr);
      const int32_t kvw = layout.geometry.num_kv_heads * d;
      for (int64_t t = 0; t < n; ++t) {
        for (int32_t kv = 0; kv < 2; ++kv) {
          const int64_t chunk = layout.chunk_offset(layer, kv, blocks[size_t(t)]) / 2;
          const int64_t slot = positions[size_t(t)] % 16;
          for (int32_t e = 0; e < kvw; ++e) {
            pool[size_t(chunk + slot * kvw + e)] = qkv[size_t(t) * width + size_t(heads) * d + size_t(kv) * kvw + e];
          }
        }
      }
      EXPECT_EQ(d_pool.download(), pool);
    }
  }
}

}  // namespace
}  // namespace flowkv::kernels
