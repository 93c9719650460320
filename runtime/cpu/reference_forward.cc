#include "runtime/cpu/reference_forward.h"

#include <cmath>
#include <cstring>

#include "core/base/error.h"
#include "runtime/cpu/kernels.h"

namespace flowkv::runtime {
namespace {

class ReferenceModel {
 public:
  ReferenceModel(const ModelWeights& w, int32_t dtype_bytes, int64_t max_positions)
      : w_(w), s_(w.spec), dtype_(dtype_bytes), max_positions_(max_positions),
        inv_freq_(cpu::rope_inv_freq(w.spec)) {
    FLOWKV_CHECK(dtype_bytes == 2 || dtype_bytes == 4,
                 "reference KV of " + std::to_string(dtype_bytes) + " bytes");
    cache_.assign(static_cast<size_t>(int64_t{s_.num_layers} * 2 * max_positions_ *
                                      s_.num_kv_heads * s_.head_dim * dtype_),
                  std::byte{0});
  }

  // Runs `tokens` at positions [start, start + n); returns the logits after the last one.
  std::vector<float> forward(std::span<const int32_t> tokens, int64_t start) {
    const int64_t n = static_cast<int64_t>(tokens.size());
    FLOWKV_CHECK(start + n <= max_positions_, "reference cache too small");
    const int64_t hidden = s_.hidden_size;
    std::vector<float> x(static_cast<size_t>(n * hidden));  // [n][hidden]
    for (int64_t t = 0; t < n; ++t) {
      const int32_t token = tokens[static_cast<size_t>(t)];
      FLOWKV_CHECK(token >= 0 && token < s_.vocab_size, "token " + std::to_string(token));
      std::memcpy(&x[t * hidden], &w_.embed[int64_t{token} * hidden], hidden * 4);
    }
    for (int32_t l = 0; l < s_.num_layers; ++l) layer(l, x, start);
    std::vector<float> last(static_cast<size_t>(hidden));  // [hidden]
    cpu::rms_norm(&x[(n - 1) * hidden], w_.final_norm.data(), hidden,
                  static_cast<float>(s_.rms_norm_eps), last.data());
    std::vector<float> logits(static_cast<size_t>(s_.vocab_size));  // [vocab]
    cpu::matmul(last.data(), hidden, 1, w_.lm_head.data(), s_.vocab_size, hidden, logits.data(),
                s_.vocab_size);
    return logits;
  }

 private:
  // Element offset (in elements of dtype_) of (layer, kv, position, head).
  int64_t at(int32_t layer, int32_t kv, int64_t pos, int32_t head) const {
    return (((int64_t{layer} * 2 + kv) * max_positions_ + pos) * s_.num_kv_heads + head) *
           s_.head_dim;
  }

  void layer(int32_t l, std::vector<float>& x, int64_t start) {
    const LayerWeights& w = w_.layers[static_cast<size_t>(l)];
    const int64_t hidden = s_.hidden_size;
    const int64_t n = static_cast<int64_t>(x.size()) / hidden;
    const int64_t hd = s_.head_dim;
    const int64_t q_dim = s_.num_heads * hd;
    const int64_t kv_dim = s_.num_kv_heads * hd;
    const int64_t qkv_dim = q_dim + 2 * kv_dim;
    const int64_t inter = s_.intermediate_size;
    const int32_t group = s_.num_heads / s_.num_kv_heads;
    const float eps = static_cast<float>(s_.rms_norm_eps);

    std::vector<float> h(static_cast<size_t>(n * hidden));      // [n][hidden]
    std::vector<float> qkv(static_cast<size_t>(n * qkv_dim));   // [n][qkv_dim]
    for (int64_t t = 0; t < n; ++t) {
      cpu::rms_norm(&x[t * hidden], w.attn_norm.data(), hidden, eps, &h[t * hidden]);
    }
    cpu::matmul(h.data(), hidden, n, w.qkv.data(), qkv_dim, hidden, qkv.data(), qkv_dim);
    const int32_t half = s_.head_dim / 2;
    std::vector<float> cos(static_cast<size_t>(half)), sin(static_cast<size_t>(half));
    for (int64_t t = 0; t < n; ++t) {
      float* row = &qkv[t * qkv_dim];
      for (size_t i = 0; i < w.qkv_bias.size(); ++i) row[i] += w.qkv_bias[i];
      cpu::rope_angles(start + t, inv_freq_.data(), half, cos.data(), sin.data());
      for (int32_t head = 0; head < s_.num_heads + s_.num_kv_heads; ++head) {
        cpu::apply_rope(row + head * hd, cos.data(), sin.data(), s_.head_dim);
      }
      for (int32_t kv = 0; kv < 2; ++kv) {
        for (int32_t head = 0; head < s_.num_kv_heads; ++head) {
          cpu::store_kv(row + q_dim + kv * kv_dim + head * hd,
                        &cache_[at(l, kv, start + t, head) * dtype_], hd, dtype_);
        }
      }
    }
    // Attention, reading the cache back for every position (the new ones too).
    const int64_t ctx = start + n;
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    std::vector<float> attn(static_cast<size_t>(n * q_dim));    // [n][q_dim]
    const int64_t stride = cpu::scores_stride(ctx);
    std::vector<float> row(static_cast<size_t>(hd));              // [head_dim]
    std::vector<float> keys(static_cast<size_t>(hd * stride), 0.0f);  // [head_dim][stride]
    std::vector<float> values(static_cast<size_t>(ctx * hd));     // [ctx][head_dim]
    std::vector<float> scores(static_cast<size_t>(group * stride));  // [group][stride]
    for (int32_t head = 0; head < s_.num_kv_heads; ++head) {
      for (int64_t p = 0; p < ctx; ++p) {
        cpu::load_kv(&cache_[at(l, 0, p, head) * dtype_], row.data(), hd, dtype_);
        for (int64_t d = 0; d < hd; ++d) keys[d * stride + p] = row[d];
        cpu::load_kv(&cache_[at(l, 1, p, head) * dtype_], &values[p * hd], hd, dtype_);
      }
      for (int64_t t = 0; t < n; ++t) {
        const int64_t q_offset = int64_t{head} * group * hd;
        cpu::attend(&qkv[t * qkv_dim + q_offset], group, keys.data(), stride, values.data(),
                    start + t + 1, s_.head_dim, scale, scores.data(), &attn[t * q_dim + q_offset]);
      }
    }
    std::vector<float> proj(static_cast<size_t>(n * hidden));   // [n][hidden]
    cpu::matmul(attn.data(), q_dim, n, w.o.data(), hidden, q_dim, proj.data(), hidden);
    for (size_t i = 0; i < x.size(); ++i) x[i] += proj[i];

    for (int64_t t = 0; t < n; ++t) {
      cpu::rms_norm(&x[t * hidden], w.mlp_norm.data(), hidden, eps, &h[t * hidden]);
    }
    std::vector<float> gate_up(static_cast<size_t>(n * 2 * inter));  // [n][2 * intermediate]
    cpu::matmul(h.data(), hidden, n, w.gate_up.data(), 2 * inter, hidden, gate_up.data(),
                2 * inter);
    std::vector<float> act(static_cast<size_t>(n * inter));     // [n][intermediate]
    for (int64_t t = 0; t < n; ++t) {
      cpu::silu_mul(&gate_up[t * 2 * inter], &gate_up[t * 2 * inter + inter], inter,
                    &act[t * inter]);
    }
    cpu::matmul(act.data(), inter, n, w.down.data(), hidden, inter, proj.data(), hidden);
    for (size_t i = 0; i < x.size(); ++i) x[i] += proj[i];
  }

  const ModelWeights& w_;
  const core::ModelSpec& s_;
  int32_t dtype_;
  int64_t max_positions_;
  std::vector<float> inv_freq_;  // [head_dim / 2]
  std::vector<std::byte> cache_;  // [num_layers][2][max_positions][num_kv_heads][head_dim]
};

}  // namespace

std::vector<int32_t> reference_generate(const ModelWeights& weights, int32_t kv_dtype_bytes,
                                        std::span<const int32_t> prompt, int64_t output_tokens,
                                        std::vector<float>& logits) {
  FLOWKV_CHECK(!prompt.empty(), "reference_generate needs a prompt");
  FLOWKV_CHECK(output_tokens >= 0, "negative output length");
  const int64_t vocab = weights.spec.vocab_size;
  ReferenceModel model(weights, kv_dtype_bytes,
                       static_cast<int64_t>(prompt.size()) + std::max<int64_t>(output_tokens, 1));
  std::vector<int32_t> out;
  logits.clear();
  if (output_tokens == 0) return out;
  std::vector<float> l = model.forward(prompt, 0);
  int64_t pos = static_cast<int64_t>(prompt.size());
  for (;;) {
    logits.insert(logits.end(), l.begin(), l.end());
    out.push_back(cpu::argmax(l.data(), vocab));
    if (static_cast<int64_t>(out.size()) == output_tokens) break;
    const int32_t token = out.back();
    l = model.forward(std::span<const int32_t>(&token, 1), pos++);
  }
  return out;
}

std::vector<int32_t> reference_generate(const ModelWeights& weights, int32_t kv_dtype_bytes,
                                        std::span<const int32_t> prompt, int64_t output_tokens) {
  std::vector<float> logits;
  return reference_generate(weights, kv_dtype_bytes, prompt, output_tokens, logits);
}

}  // namespace flowkv::runtime
