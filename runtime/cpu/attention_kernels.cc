// Attention kernels: scores over transposed K, softmax with our exp, the weighted sum of V.
// Each has a portable and an AVX2 build of the same code (see kernels.cc); kernels.h states the
// orders.
#include <algorithm>
#include <string>

#include "core/base/error.h"
#include "runtime/cpu/kernels.h"
#include "runtime/cpu/vec8.h"

namespace flowkv::runtime::cpu {
namespace {

using namespace detail;

// out[d] = sum_j w[j] * v[j][d] in increasing j, for one query head: out starts at +0 and
// each step adds one rounded product. HD known at compile time keeps the accumulators in
// registers (8 lanes of d each); the generic loop does the same operations through memory.
//   w: [ctx], v: [ctx][head_dim], out: [head_dim].
template <int HD>
[[gnu::always_inline]] inline void weighted_sum_fixed(const float* w, const float* v, int64_t ctx,
                                                      float* out) {
  static_assert(HD % 8 == 0, "whole vectors");
  V8 acc[HD / 8];
  for (int i = 0; i < HD / 8; ++i) acc[i] = V8{0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t j = 0; j < ctx; ++j) {
    const float wj = w[j];
    const V8 wv = FLOWKV_V8_SPLAT(wj);
    const float* vj = v + j * HD;
    for (int i = 0; i < HD / 8; ++i) acc[i] += wv * *reinterpret_cast<const V8u*>(vj + 8 * i);
  }
  for (int i = 0; i < HD / 8; ++i) std::memcpy(out + 8 * i, &acc[i], sizeof(V8));
}

[[gnu::always_inline]] inline void weighted_sum(const float* w, const float* v, int64_t ctx,
                                                int32_t head_dim, float* out) {
  switch (head_dim) {
    case 32: return weighted_sum_fixed<32>(w, v, ctx, out);
    case 64: return weighted_sum_fixed<64>(w, v, ctx, out);
    case 128: return weighted_sum_fixed<128>(w, v, ctx, out);
    default: break;
  }
  std::fill(out, out + head_dim, 0.0f);
  for (int64_t j = 0; j < ctx; ++j) {
    const float* vj = v + j * head_dim;
    for (int32_t d = 0; d < head_dim; ++d) out[d] += w[j] * vj[d];
  }
}

// Largest of x[0..n) (n >= 1); max is exact, so the lane order does not matter.
[[gnu::always_inline]] inline float max8(const float* x, int64_t n) {
  float m = x[0];
  for (int64_t k = 1; k < n; ++k) m = x[k] > m ? x[k] : m;
  return m;
}

// Scores of R query rows against 8 * J positions: acc[r][j] lane l = position 8j + l, summed
// over d in increasing order (one rounded product, one rounded sum per step).
//   q: [R][head_dim] (q_stride apart), kt: [head_dim][kt_stride], s: [R][s_stride].
template <int R, int J>
[[gnu::always_inline]] inline void score_tile(const float* q, int64_t q_stride, const float* kt,
                                              int64_t kt_stride, int32_t head_dim, float* s,
                                              int64_t s_stride) {
  V8 acc[R][J];
  for (int r = 0; r < R; ++r) {
    for (int j = 0; j < J; ++j) acc[r][j] = FLOWKV_V8_SPLAT(0.0f);
  }
  for (int32_t d = 0; d < head_dim; ++d) {
    V8 k[J];
    for (int j = 0; j < J; ++j) k[j] = *reinterpret_cast<const V8u*>(kt + d * kt_stride + 8 * j);
    for (int r = 0; r < R; ++r) {
      const V8 qd = FLOWKV_V8_SPLAT(q[r * q_stride + d]);
      for (int j = 0; j < J; ++j) acc[r][j] += qd * k[j];
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int j = 0; j < J; ++j) std::memcpy(s + r * s_stride + 8 * j, &acc[r][j], sizeof(V8));
  }
}

template <int R>
[[gnu::always_inline]] inline void score_rows(const float* q, int64_t q_stride, const float* kt,
                                              int64_t kt_stride, int64_t ctx8, int32_t head_dim,
                                              float* s, int64_t s_stride) {
  int64_t j = 0;
  for (; j + 32 <= ctx8; j += 32) {
    score_tile<R, 4>(q, q_stride, kt + j, kt_stride, head_dim, s + j, s_stride);
  }
  for (; j < ctx8; j += 8) {
    score_tile<R, 1>(q, q_stride, kt + j, kt_stride, head_dim, s + j, s_stride);
  }
}

[[gnu::always_inline]] inline void scores_body(const float* q, int64_t q_stride, int64_t rows,
                                               const float* kt, int64_t kt_stride, int64_t ctx,
                                               int32_t head_dim, float* s, int64_t s_stride) {
  const int64_t ctx8 = (ctx + 7) / 8 * 8;
  int64_t r = 0;
  for (; r + 2 <= rows; r += 2) {
    score_rows<2>(q + r * q_stride, q_stride, kt, kt_stride, ctx8, head_dim, s + r * s_stride,
                  s_stride);
  }
  if (r < rows) {
    score_rows<1>(q + r * q_stride, q_stride, kt, kt_stride, ctx8, head_dim, s + r * s_stride,
                  s_stride);
  }
}

void scores_portable(const float* q, int64_t q_stride, int64_t rows, const float* kt,
                     int64_t kt_stride, int64_t ctx, int32_t head_dim, float* s,
                     int64_t s_stride) {
  scores_body(q, q_stride, rows, kt, kt_stride, ctx, head_dim, s, s_stride);
}

// The steps after the scores (softmax_weighted_sum's order, kernels.h).
[[gnu::always_inline]] inline void softmax_weighted_sum_body(float* s, int64_t ctx,
                                                             const float* v, int32_t head_dim,
                                                             float scale, float* out) {
  for (int64_t j = 0; j < ctx; ++j) s[j] *= scale;
  const float m = max8(s, ctx);
  exp_array(s, ctx, -m);
  const float total = sum8(s, ctx);
  weighted_sum(s, v, ctx, head_dim, out);
  for (int32_t d = 0; d < head_dim; ++d) out[d] /= total;
}

void softmax_weighted_sum_portable(float* s, int64_t ctx, const float* v, int32_t head_dim,
                                   float scale, float* out) {
  softmax_weighted_sum_body(s, ctx, v, head_dim, scale, out);
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) void scores_avx2(const float* q, int64_t q_stride, int64_t rows,
                                                 const float* kt, int64_t kt_stride, int64_t ctx,
                                                 int32_t head_dim, float* s, int64_t s_stride) {
  scores_body(q, q_stride, rows, kt, kt_stride, ctx, head_dim, s, s_stride);
}
__attribute__((target("avx2"))) void softmax_weighted_sum_avx2(float* s, int64_t ctx,
                                                               const float* v, int32_t head_dim,
                                                               float scale, float* out) {
  softmax_weighted_sum_body(s, ctx, v, head_dim, scale, out);
}
#else
void scores_avx2(const float* q, int64_t q_stride, int64_t rows, const float* kt,
                 int64_t kt_stride, int64_t ctx, int32_t head_dim, float* s, int64_t s_stride) {
  scores_body(q, q_stride, rows, kt, kt_stride, ctx, head_dim, s, s_stride);
}
void softmax_weighted_sum_avx2(float* s, int64_t ctx, const float* v, int32_t head_dim,
                               float scale, float* out) {
  softmax_weighted_sum_body(s, ctx, v, head_dim, scale, out);
}
#endif

}  // namespace

void softmax_weighted_sum(float* scores, int64_t ctx, const float* v, int32_t head_dim,
                          float scale, float* out) {
  FLOWKV_CHECK(ctx >= 1, "attention over no position");
  if (simd_path() >= SimdPath::kAvx2) {
    softmax_weighted_sum_avx2(scores, ctx, v, head_dim, scale, out);
  } else {
    softmax_weighted_sum_portable(scores, ctx, v, head_dim, scale, out);
  }
}

int64_t scores_stride(int64_t ctx) { return (ctx + 7) / 8 * 8; }

void attention_scores(const float* q, int64_t q_stride, int64_t rows, const float* kt,
                      int64_t kt_stride, int64_t ctx, int32_t head_dim, float* scores,
                      int64_t s_stride) {
  FLOWKV_CHECK(kt_stride >= scores_stride(ctx) && s_stride >= scores_stride(ctx),
               "attention_scores: strides " + std::to_string(kt_stride) + ", " +
                   std::to_string(s_stride) + " below " + std::to_string(scores_stride(ctx)));
  if (simd_path() >= SimdPath::kAvx2) {
    scores_avx2(q, q_stride, rows, kt, kt_stride, ctx, head_dim, scores, s_stride);
  } else {
    scores_portable(q, q_stride, rows, kt, kt_stride, ctx, head_dim, scores, s_stride);
  }
}

void attend(const float* q, int32_t group, const float* kt, int64_t kt_stride, const float* v,
            int64_t ctx, int32_t head_dim, float scale, float* scores, float* out) {
  FLOWKV_CHECK(ctx >= 1, "attention over no position");
  const int64_t stride = scores_stride(ctx);
  attention_scores(q, head_dim, group, kt, kt_stride, ctx, head_dim, scores, stride);
  for (int32_t g = 0; g < group; ++g) {
    softmax_weighted_sum(scores + g * stride, ctx, v, head_dim, scale, out + g * head_dim);
  }
}

}  // namespace flowkv::runtime::cpu
