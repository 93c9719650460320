// A tiny Llama-architecture model for the CUDA executor's tests, and a float32 host reference of
// its forward pass. The reference rounds to bf16 where the GPU does (normed activations, the QKV
// projection, q/k after RoPE, the attention output, gate-up and SwiGLU outputs, the KV cache), so
// the GPU and the reference differ only by summation order: logits agree to a few hundredths.
// (Once runtime/cpu's CpuDevice is merged, the executor test should also compare against it.)
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "core/spec/model_spec.h"
#include "kernels/rope.h"
#include "runtime/model/model_weights.h"
#include "runtime/model/random_weights.h"

namespace flowkv::runtime::test {

// head_dim 32, GQA 4/2, llama3 RoPE scaling with a short original context so that prompts of a
// few hundred tokens cross all three frequency bands.
inline core::ModelSpec tiny_spec(bool attention_bias = false) {
  core::ModelSpec s;
  s.name = attention_bias ? "tiny-bias" : "tiny";
  s.num_layers = 2;
  s.hidden_size = 128;
  s.num_heads = 4;
  s.num_kv_heads = 2;
  s.head_dim = 32;
  s.intermediate_size = 256;
  s.vocab_size = 512;
  s.dtype_bytes = 2;
  s.max_context = 4096;
  s.attention_bias = attention_bias;
  s.model_type = attention_bias ? "qwen2" : "llama";
  s.rms_norm_eps = 1e-5;
  s.rope_theta = 10000.0;
  s.rope_scaling.llama3 = true;
  s.rope_scaling.factor = 8.0;
  s.rope_scaling.low_freq_factor = 1.0;
  s.rope_scaling.high_freq_factor = 4.0;
  s.rope_scaling.original_max_position_embeddings = 64;
  return s;
}

// The weights random_weights() makes (runtime/model/random_weights.h), built here on the host.
inline ModelWeights host_weights(const core::ModelSpec& s, uint64_t seed) {
  const int64_t hidden = s.hidden_size;
  const int64_t q_dim = int64_t{s.num_heads} * s.head_dim;
  const int64_t qkv_rows = int64_t{s.num_heads + 2 * s.num_kv_heads} * s.head_dim;
  auto tensor = [&](WeightTensor kind, int32_t layer, int64_t count) {
    const WeightInit init = weight_init(kind, hidden, q_dim, s.intermediate_size);
    std::vector<float> v(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) {
      v[size_t(i)] = random_weight(seed, tensor_id(kind, layer), uint64_t(i), init.scale, init.offset);
    }
    return v;
  };
  ModelWeights w;
  w.spec = s;
  w.seed = seed;
  w.random = true;
  w.embed = tensor(WeightTensor::kEmbed, 0, int64_t{s.vocab_size} * hidden);
  for (int32_t l = 0; l < s.num_layers; ++l) {
    LayerWeights lw;
    lw.attn_norm = tensor(WeightTensor::kAttnNorm, l, hidden);
    lw.qkv = tensor(WeightTensor::kQkv, l, qkv_rows * hidden);
    if (s.attention_bias) lw.qkv_bias = tensor(WeightTensor::kQkvBias, l, qkv_rows);
    lw.o = tensor(WeightTensor::kO, l, hidden * q_dim);
    lw.mlp_norm = tensor(WeightTensor::kMlpNorm, l, hidden);
    lw.gate_up = tensor(WeightTensor::kGateUp, l, 2 * int64_t{s.intermediate_size} * hidden);
    lw.down = tensor(WeightTensor::kDown, l, hidden * s.intermediate_size);
    w.layers.push_back(std::move(lw));
  }
  w.final_norm = tensor(WeightTensor::kFinalNorm, 0, hidden);
  w.lm_head = s.tie_word_embeddings ? w.embed : tensor(WeightTensor::kLmHead, 0, int64_t{s.vocab_size} * hidden);
  return w;
}

inline float bf16(double v) { return round_to_bf16(static_cast<float>(v)); }

// y[r][c] = sum_i x[r][i] w[c][i], in double.
inline std::vector<double> matmul(const std::vector<float>& x, int64_t rows, int64_t k,
                                  const std::vector<float>& w, int64_t n) {
  std::vector<double> y(size_t(rows * n), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < n; ++c) {
      double acc = 0;
      for (int64_t i = 0; i < k; ++i) acc += double(x[size_t(r * k + i)]) * w[size_t(c * k + i)];
      y[size_t(r * n + c)] = acc;
    }
  }
  return y;
}

inline std::vector<float> rms_norm_bf16(const std::vector<float>& x, int64_t rows, int64_t hidden,
                                        const std::vector<float>& w, double eps) {
  std::vector<float> out(size_t(rows * hidden));
  for (int64_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (int64_t i = 0; i < hidden; ++i) ss += double(x[size_t(r * hidden + i)]) * x[size_t(r * hidden + i)];
    const double inv = 1.0 / std::sqrt(ss / double(hidden) + eps);
    for (int64_t i = 0; i < hidden; ++i) out[size_t(r * hidden + i)] = bf16(x[size_t(r * hidden + i)] * inv * w[size_t(i)]);
  }
  return out;
}

// Logits (float32) after the last token of `seq`, the whole sequence computed causally.
inline std::vector<float> reference_logits(const ModelWeights& w, std::span<const int32_t> seq) {
  const core::ModelSpec& s = w.spec;
  const int64_t T = int64_t(seq.size()), hidden = s.hidden_size, D = s.head_dim;
  const int64_t H = s.num_heads, KVH = s.num_kv_heads, G = H / KVH, I = s.intermediate_size;
  const int64_t qkv_w = (H + 2 * KVH) * D;
  const std::vector<double> inv_freq = kernels::rope_inv_freq(s);
  std::vector<float> resid(size_t(T * hidden));
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t i = 0; i < hidden; ++i) resid[size_t(t * hidden + i)] = w.embed[size_t(seq[size_t(t)] * hidden + i)];
  }
  for (const LayerWeights& L : w.layers) {
    const auto xn = rms_norm_bf16(resid, T, hidden, L.attn_norm, s.rms_norm_eps);
    const auto proj = matmul(xn, T, hidden, L.qkv, qkv_w);
    std::vector<float> qkv(proj.size());
    for (size_t i = 0; i < proj.size(); ++i) qkv[i] = bf16(proj[i]);
    for (int64_t t = 0; t < T; ++t) {
      float* row = qkv.data() + t * qkv_w;
      std::vector<float> biased(row, row + qkv_w);
      if (!L.qkv_bias.empty()) {
        for (int64_t i = 0; i < qkv_w; ++i) biased[size_t(i)] = row[i] + L.qkv_bias[size_t(i)];
      }
      for (int64_t h = 0; h < H + 2 * KVH; ++h) {
        for (int64_t i = 0; i < D / 2; ++i) {
          const int64_t a = h * D + i, b = a + D / 2;
          if (h >= H + KVH) {  // v: bias only
            row[a] = bf16(biased[size_t(a)]);
            row[b] = bf16(biased[size_t(b)]);
            continue;
          }
          const double angle = double(t) * inv_freq[size_t(i)];
          const double c = std::cos(angle), sn = std::sin(angle);
          row[a] = bf16(biased[size_t(a)] * c - biased[size_t(b)] * sn);
          row[b] = bf16(biased[size_t(b)] * c + biased[size_t(a)] * sn);
        }
      }
    }
    std::vector<float> attn(size_t(T * H * D));
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t h = 0; h < H; ++h) {
        const int64_t kvh = h / G;
        const float* q = qkv.data() + t * qkv_w + h * D;
        std::vector<double> p(size_t(t + 1));
        double mx = -1e300;
        for (int64_t k = 0; k <= t; ++k) {
          const float* key = qkv.data() + k * qkv_w + (H + kvh) * D;
          double dot = 0;
          for (int64_t i = 0; i < D; ++i) dot += double(q[i]) * key[i];
          p[size_t(k)] = dot / std::sqrt(double(D));
          mx = std::max(mx, p[size_t(k)]);
        }
        double sum = 0;
        for (auto& v : p) sum += (v = std::exp(v - mx));
        for (int64_t i = 0; i < D; ++i) {
          double o = 0;
          for (int64_t k = 0; k <= t; ++k) o += p[size_t(k)] * qkv[size_t(k * qkv_w + (H + KVH + kvh) * D + i)];
          attn[size_t(t * H * D + h * D + i)] = bf16(o / sum);
        }
      }
    }
    const auto o = matmul(attn, T, H * D, L.o, hidden);
    for (size_t i = 0; i < resid.size(); ++i) resid[i] = float(double(resid[i]) + o[i]);
    const auto xm = rms_norm_bf16(resid, T, hidden, L.mlp_norm, s.rms_norm_eps);
    const auto gu = matmul(xm, T, hidden, L.gate_up, 2 * I);
    std::vector<float> act(size_t(T * I));
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t i = 0; i < I; ++i) {
        const double g = bf16(gu[size_t(t * 2 * I + i)]);
        const double u = bf16(gu[size_t(t * 2 * I + I + i)]);
        act[size_t(t * I + i)] = bf16(g / (1.0 + std::exp(-g)) * u);
      }
    }
    const auto down = matmul(act, T, I, L.down, hidden);
    for (size_t i = 0; i < resid.size(); ++i) resid[i] = float(double(resid[i]) + down[i]);
  }
  std::vector<float> last(resid.end() - hidden, resid.end());
  const auto xf = rms_norm_bf16(last, 1, hidden, w.final_norm, s.rms_norm_eps);
  const auto logits = matmul(xf, 1, hidden, w.lm_head, s.vocab_size);
  return std::vector<float>(logits.begin(), logits.end());
}

}  // namespace flowkv::runtime::test
