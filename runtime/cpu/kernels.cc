// The matmul is one tile template compiled twice: for the x86-64 baseline (the portable path)
// and inside a target("avx2") function. Both do the same IEEE operations in the same order
// (8-lane vectors of GCC's vector extension; no FMA, see -ffp-contract=off in
// runtime/CMakeLists.txt), so they give the same bits; the AVX2 one only uses wider registers.
#include "runtime/cpu/kernels.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <numbers>

#include "core/base/error.h"
#include "runtime/cpu/thread_pool.h"
#include "runtime/model/random_weights.h"

namespace flowkv::runtime::cpu {
namespace {

using V8 = float __attribute__((vector_size(32)));
// An unaligned view of 8 floats.
using V8u = float __attribute__((vector_size(32), aligned(4), may_alias));
// 8 copies of v. (A macro: a function returning a 32-byte vector changes the ABI outside AVX
// code.)
#define FLOWKV_SPLAT(v) (V8{(v), (v), (v), (v), (v), (v), (v), (v)})

// The fixed combine of the 8 lanes.
[[gnu::always_inline]] inline float combine(const V8& a) {
  return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
}

// 8 floats from p, zero past `valid` (the padded tail).
// (An out parameter: returning a 32-byte vector from a non-AVX function changes the ABI.)
[[gnu::always_inline]] inline void load_tail(const float* p, int64_t valid, V8& v) {
  float buf[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::memcpy(buf, p, static_cast<size_t>(valid) * sizeof(float));
  std::memcpy(&v, buf, sizeof(v));
}

// y[t][r] for R rows of w and T tokens of x: R * T dot products sharing their loads.
//   x: [T][in] (x_stride apart), w: [R][in], y: [T][...] (y_stride apart).
template <int R, int T>
[[gnu::always_inline]] inline void tile(const float* x, int64_t x_stride, const float* w,
                                        int64_t in, float* y, int64_t y_stride) {
  V8 acc[R][T];
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) acc[r][t] = V8{0, 0, 0, 0, 0, 0, 0, 0};
  }
  const int64_t in8 = in - in % 8;
  for (int64_t k = 0; k < in8; k += 8) {
    V8 xv[T];
    for (int t = 0; t < T; ++t) xv[t] = *reinterpret_cast<const V8u*>(x + t * x_stride + k);
    for (int r = 0; r < R; ++r) {
      const V8 wv = *reinterpret_cast<const V8u*>(w + r * in + k);
      for (int t = 0; t < T; ++t) acc[r][t] += wv * xv[t];
    }
  }
  if (in8 < in) {
    V8 xv[T];
    for (int t = 0; t < T; ++t) load_tail(x + t * x_stride + in8, in - in8, xv[t]);
    for (int r = 0; r < R; ++r) {
      V8 wv;
      load_tail(w + r * in + in8, in - in8, wv);
      for (int t = 0; t < T; ++t) acc[r][t] += wv * xv[t];
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) y[t * y_stride + r] = combine(acc[r][t]);
  }
}

constexpr int kTileRows = 4;
constexpr int kTileTokens = 3;

// A tile of up to kTileRows x kTileTokens: the full one, or an edge one.
template <int R>
[[gnu::always_inline]] inline void tile_rows(int t, const float* x, int64_t x_stride,
                                             const float* w, int64_t in, float* y,
                                             int64_t y_stride) {
  static_assert(kTileTokens == 3, "tile_rows dispatches 1..3 tokens");
  switch (t) {
    case 3: return tile<R, 3>(x, x_stride, w, in, y, y_stride);
    case 2: return tile<R, 2>(x, x_stride, w, in, y, y_stride);
    default: return tile<R, 1>(x, x_stride, w, in, y, y_stride);
  }
}

// Rows [r0, r1) x tokens [t0, t1) of y = x w^T: weight rows outer (they stay in L1 while the
// tokens stream past), tokens inner.
struct Block {
  const float* x;
  int64_t x_stride;
  const float* w;
  int64_t in;
  float* y;
  int64_t y_stride;
  int64_t r0, r1, t0, t1;
};

[[gnu::always_inline]] inline void run_block(const Block& b) {
  static_assert(kTileRows == 4, "run_block dispatches 1..4 rows");
  for (int64_t r = b.r0; r < b.r1; r += kTileRows) {
    const int rows = static_cast<int>(std::min<int64_t>(kTileRows, b.r1 - r));
    const float* w = b.w + r * b.in;
    for (int64_t t = b.t0; t < b.t1; t += kTileTokens) {
      const int tokens = static_cast<int>(std::min<int64_t>(kTileTokens, b.t1 - t));
      const float* x = b.x + t * b.x_stride;
      float* y = b.y + t * b.y_stride + r;
      switch (rows) {
        case 4: tile_rows<4>(tokens, x, b.x_stride, w, b.in, y, b.y_stride); break;
        case 3: tile_rows<3>(tokens, x, b.x_stride, w, b.in, y, b.y_stride); break;
        case 2: tile_rows<2>(tokens, x, b.x_stride, w, b.in, y, b.y_stride); break;
        default: tile_rows<1>(tokens, x, b.x_stride, w, b.in, y, b.y_stride); break;
      }
    }
  }
}

void run_block_portable(const Block& b) { run_block(b); }

#if defined(__x86_64__)
__attribute__((target("avx2"))) void run_block_avx2(const Block& b) { run_block(b); }
bool cpu_has_avx2() { return __builtin_cpu_supports("avx2"); }
#else
void run_block_avx2(const Block& b) { run_block(b); }
bool cpu_has_avx2() { return false; }
#endif

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
    const V8 wv = FLOWKV_SPLAT(wj);
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

// e^x, our own rather than libm's: every machine computes the same bits (glibc picks an FMA
// variant of expf at run time) and the loops vectorise. Cephes' expf: x = n ln2 + r with ln2 in
// two parts, e^r = 1 + r + r^2 P(r), times 2^n; every operation rounded (no FMA); relative
// error about 1e-7. x is clamped to [-87.3, 88]: e^-87.3 (1.2e-38, normal) stands for smaller
// values, e^88 for larger ones.
using V8i = int32_t __attribute__((vector_size(32)));


// In place on 8 lanes (the scalar form runs the same code on one lane).
[[gnu::always_inline]] inline void exp8(V8& x) {
  x = x < FLOWKV_SPLAT(-87.3f) ? FLOWKV_SPLAT(-87.3f) : x;
  x = x > FLOWKV_SPLAT(88.0f) ? FLOWKV_SPLAT(88.0f) : x;
  // Round x log2(e) to the nearest integer (exact for |x log2 e| < 2^22).
  const V8 n = (x * FLOWKV_SPLAT(1.44269504088896341f) + FLOWKV_SPLAT(12582912.0f)) - FLOWKV_SPLAT(12582912.0f);
  V8 r = x - n * FLOWKV_SPLAT(0.693359375f);
  r = r + n * FLOWKV_SPLAT(2.12194440e-4f);
  V8 p = FLOWKV_SPLAT(1.9875691500e-4f);
  p = p * r + FLOWKV_SPLAT(1.3981999507e-3f);
  p = p * r + FLOWKV_SPLAT(8.3334519073e-3f);
  p = p * r + FLOWKV_SPLAT(4.1665795894e-2f);
  p = p * r + FLOWKV_SPLAT(1.6666665459e-1f);
  p = p * r + FLOWKV_SPLAT(5.0000001201e-1f);
  const V8 e = p * (r * r) + r + FLOWKV_SPLAT(1.0f);
  const V8i bits = (__builtin_convertvector(n, V8i) + 127) << 23;
  V8 two_n;
  std::memcpy(&two_n, &bits, sizeof(two_n));
  x = e * two_n;
}

[[gnu::always_inline]] inline float exp_fixed(float v) {
  V8 x = FLOWKV_SPLAT(v);
  exp8(x);
  return x[0];
}

// x[i] = exp(x[i] + add) for i < n, 8 at a time.
[[gnu::always_inline]] inline void exp_array(float* x, int64_t n, float add) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    V8 v = *reinterpret_cast<const V8u*>(x + i) + FLOWKV_SPLAT(add);
    exp8(v);
    std::memcpy(x + i, &v, sizeof(v));
  }
  for (; i < n; ++i) x[i] = exp_fixed(x[i] + add);
}

// Sum of x[0..n) in dot()'s order: 8 lanes of stride 8, zero-padded, the same fixed combine.
[[gnu::always_inline]] inline float sum8(const float* x, int64_t n) {
  V8 acc = V8{0, 0, 0, 0, 0, 0, 0, 0};
  const int64_t n8 = n - n % 8;
  for (int64_t k = 0; k < n8; k += 8) acc += *reinterpret_cast<const V8u*>(x + k);
  if (n8 < n) {
    V8 tail;
    load_tail(x + n8, n - n8, tail);
    acc += tail;
  }
  return combine(acc);
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
    for (int j = 0; j < J; ++j) acc[r][j] = FLOWKV_SPLAT(0.0f);
  }
  for (int32_t d = 0; d < head_dim; ++d) {
    V8 k[J];
    for (int j = 0; j < J; ++j) k[j] = *reinterpret_cast<const V8u*>(kt + d * kt_stride + 8 * j);
    for (int r = 0; r < R; ++r) {
      const V8 qd = FLOWKV_SPLAT(q[r * q_stride + d]);
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

#if defined(__x86_64__)
__attribute__((target("avx2"))) void scores_avx2(const float* q, int64_t q_stride, int64_t rows,
                                                 const float* kt, int64_t kt_stride, int64_t ctx,
                                                 int32_t head_dim, float* s, int64_t s_stride) {
  scores_body(q, q_stride, rows, kt, kt_stride, ctx, head_dim, s, s_stride);
}
#else
void scores_avx2(const float* q, int64_t q_stride, int64_t rows, const float* kt,
                 int64_t kt_stride, int64_t ctx, int32_t head_dim, float* s, int64_t s_stride) {
  scores_body(q, q_stride, rows, kt, kt_stride, ctx, head_dim, s, s_stride);
}
#endif

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

[[gnu::always_inline]] inline void silu_mul_body(const float* gate, const float* up, int64_t n,
                                                 float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = -gate[i];
  exp_array(out, n, 0.0f);
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + out[i]) * up[i];
}

void silu_mul_portable(const float* gate, const float* up, int64_t n, float* out) {
  silu_mul_body(gate, up, n, out);
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) void softmax_weighted_sum_avx2(float* s, int64_t ctx,
                                                               const float* v, int32_t head_dim,
                                                               float scale, float* out) {
  softmax_weighted_sum_body(s, ctx, v, head_dim, scale, out);
}
__attribute__((target("avx2"))) void silu_mul_avx2(const float* gate, const float* up, int64_t n,
                                                   float* out) {
  silu_mul_body(gate, up, n, out);
}
#else
void softmax_weighted_sum_avx2(float* s, int64_t ctx, const float* v, int32_t head_dim,
                               float scale, float* out) {
  softmax_weighted_sum_body(s, ctx, v, head_dim, scale, out);
}
void silu_mul_avx2(const float* gate, const float* up, int64_t n, float* out) {
  silu_mul_body(gate, up, n, out);
}
#endif

std::atomic<bool> force_portable{false};

}  // namespace

float dot(const float* a, const float* b, int64_t n) {
  float y;
  tile<1, 1>(a, 0, b, n, &y, 0);
  return y;
}

bool matmul_uses_avx2() {
  static const bool has = cpu_has_avx2();
  return has && !force_portable.load(std::memory_order_relaxed);
}

void set_matmul_portable(bool portable) { force_portable.store(portable); }

void matmul(const float* x, int64_t x_stride, int64_t n, const float* w, int64_t out, int64_t in,
            float* y, int64_t y_stride, ThreadPool* pool) {
  FLOWKV_CHECK(n >= 0 && out >= 0 && in >= 1, "matmul of a negative or empty shape");
  if (n == 0 || out == 0) return;
  void (*run)(const Block&) = matmul_uses_avx2() ? run_block_avx2 : run_block_portable;
  // Task blocks: 64 weight rows by 48 tokens (multiples of the tile), so that a decode step
  // (one token) still splits over rows and a long prefill over both.
  constexpr int64_t kRowsPerTask = 64;
  constexpr int64_t kTokensPerTask = 48;
  const int64_t row_tasks = (out + kRowsPerTask - 1) / kRowsPerTask;
  const int64_t token_tasks = (n + kTokensPerTask - 1) / kTokensPerTask;
  auto task = [&](int64_t i) {
    const int64_t rt = i % row_tasks;
    const int64_t tt = i / row_tasks;
    const Block b{x, x_stride, w, in, y, y_stride,
                  rt * kRowsPerTask, std::min(out, (rt + 1) * kRowsPerTask),
                  tt * kTokensPerTask, std::min(n, (tt + 1) * kTokensPerTask)};
    run(b);
  };
  if (pool == nullptr || pool->threads() == 1 || row_tasks * token_tasks == 1) {
    for (int64_t i = 0; i < row_tasks * token_tasks; ++i) task(i);
  } else {
    pool->parallel_for(row_tasks * token_tasks, task);
  }
}

void rms_norm(const float* x, const float* w, int64_t n, float eps, float* y) {
  const float mean_square = dot(x, x, n) / static_cast<float>(n);
  const float inv = 1.0f / std::sqrt(mean_square + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * inv) * w[i];
}

std::vector<float> rope_inv_freq(const core::ModelSpec& spec) {
  const int32_t half = spec.head_dim / 2;
  std::vector<double> inv(static_cast<size_t>(half));  // [head_dim / 2]
  for (int32_t i = 0; i < half; ++i) {
    inv[i] = 1.0 / std::pow(spec.rope_theta, 2.0 * i / spec.head_dim);
  }
  if (spec.rope_scaling.llama3) {
    // transformers' _compute_llama3_parameters, term by term.
    const auto& rs = spec.rope_scaling;
    const double old_context = static_cast<double>(rs.original_max_position_embeddings);
    const double low_freq_wavelen = old_context / rs.low_freq_factor;
    const double high_freq_wavelen = old_context / rs.high_freq_factor;
    for (double& f : inv) {
      const double wavelen = 2 * std::numbers::pi / f;
      double scaled = wavelen > low_freq_wavelen ? f / rs.factor : f;
      const double smooth = (old_context / wavelen - rs.low_freq_factor) /
                            (rs.high_freq_factor - rs.low_freq_factor);
      const double smoothed = (1 - smooth) * scaled / rs.factor + smooth * scaled;
      const bool medium = !(wavelen < high_freq_wavelen) && !(wavelen > low_freq_wavelen);
      f = medium ? smoothed : scaled;
    }
  }
  return std::vector<float>(inv.begin(), inv.end());
}

void rope_angles(int64_t pos, const float* inv_freq, int32_t half, float* cos_out,
                 float* sin_out) {
  for (int32_t i = 0; i < half; ++i) {
    // The angle in float32 as Hugging Face computes it; its cosine and sine exactly rounded.
    const float angle = static_cast<float>(pos) * inv_freq[i];
    cos_out[i] = static_cast<float>(std::cos(static_cast<double>(angle)));
    sin_out[i] = static_cast<float>(std::sin(static_cast<double>(angle)));
  }
}

void apply_rope(float* v, const float* cos, const float* sin, int32_t head_dim) {
  const int32_t half = head_dim / 2;
  for (int32_t i = 0; i < half; ++i) {
    const float x1 = v[i];
    const float x2 = v[i + half];
    v[i] = x1 * cos[i] - x2 * sin[i];
    v[i + half] = x2 * cos[i] + x1 * sin[i];
  }
}

void softmax_weighted_sum(float* scores, int64_t ctx, const float* v, int32_t head_dim,
                          float scale, float* out) {
  FLOWKV_CHECK(ctx >= 1, "attention over no position");
  if (matmul_uses_avx2()) {
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
  if (matmul_uses_avx2()) {
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

void silu_mul(const float* gate, const float* up, int64_t n, float* out) {
  if (matmul_uses_avx2()) {
    silu_mul_avx2(gate, up, n, out);
  } else {
    silu_mul_portable(gate, up, n, out);
  }
}

float fixed_exp(float x) { return exp_fixed(x); }

int32_t argmax(const float* x, int64_t n) {
  FLOWKV_CHECK(n >= 1, "argmax of nothing");
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i) {
    if (x[i] > x[best]) best = i;
  }
  return static_cast<int32_t>(best);
}

void store_kv(const float* src, std::byte* dst, int64_t n, int32_t dtype_bytes) {
  if (dtype_bytes == 4) {
    std::memcpy(dst, src, static_cast<size_t>(n) * 4);
    return;
  }
  FLOWKV_CHECK(dtype_bytes == 2, "KV element of " + std::to_string(dtype_bytes) + " bytes");
  using U16 = uint16_t __attribute__((may_alias));
  U16* out = reinterpret_cast<U16*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    const float r = round_to_bf16(src[i]);
    uint32_t bits;
    std::memcpy(&bits, &r, 4);
    out[i] = static_cast<uint16_t>(bits >> 16);
  }
}

void load_kv(const std::byte* src, float* dst, int64_t n, int32_t dtype_bytes) {
  if (dtype_bytes == 4) {
    std::memcpy(dst, src, static_cast<size_t>(n) * 4);
    return;
  }
  FLOWKV_CHECK(dtype_bytes == 2, "KV element of " + std::to_string(dtype_bytes) + " bytes");
  // The pool's elements are 2-byte aligned; may_alias: the pool is raw bytes.
  using U16 = uint16_t __attribute__((may_alias));
  using U32 = uint32_t __attribute__((may_alias));
  const U16* in = reinterpret_cast<const U16*>(src);
  U32* bits = reinterpret_cast<U32*>(dst);
  for (int64_t i = 0; i < n; ++i) bits[i] = uint32_t{in[i]} << 16;
}

#undef FLOWKV_SPLAT

}  // namespace flowkv::runtime::cpu
