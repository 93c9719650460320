// Matmul, norms, RoPE, SwiGLU, argmax and the KV element conversions (attention is in
// attention_kernels.cc). The matmul is one tile template compiled twice: for the x86-64
// baseline (the portable path) and inside a target("avx2") function. Both do the same IEEE
// operations in the same order (8-lane vectors; no FMA, see -ffp-contract=off in
// runtime/CMakeLists.txt), so they give the same bits; the AVX2 one only uses wider registers.
#include "runtime/cpu/kernels.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <numbers>

#include "core/base/error.h"
#include "runtime/cpu/thread_pool.h"
#include "runtime/cpu/vec8.h"
#include "runtime/model/random_weights.h"

namespace flowkv::runtime::cpu {
namespace {

using namespace detail;

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

// The AVX-512 tile: one 16-lane register holds the 8 lanes of two tokens' dot products
// (token 2p in lanes 0-7, token 2p + 1 in lanes 8-15), the weight row's 8 floats repeated in
// both halves: lane for lane the same operations as tile(), twice as many per instruction.
using V16 = float __attribute__((vector_size(64)));

template <int R, int P>
[[gnu::always_inline]] inline void tile_pairs(const float* x, int64_t x_stride, const float* w,
                                              int64_t in, float* y, int64_t y_stride) {
  V16 acc[R][P];
  for (int r = 0; r < R; ++r) {
    for (int p = 0; p < P; ++p) acc[r][p] = V16{};
  }
  const int64_t in8 = in - in % 8;
  const auto step = [&](int64_t k, bool tail) {
    V16 xv[P];
    for (int p = 0; p < P; ++p) {
      V8 a, b;
      if (tail) {
        load_tail(x + (2 * p) * x_stride + k, in - k, a);
        load_tail(x + (2 * p + 1) * x_stride + k, in - k, b);
      } else {
        a = *reinterpret_cast<const V8u*>(x + (2 * p) * x_stride + k);
        b = *reinterpret_cast<const V8u*>(x + (2 * p + 1) * x_stride + k);
      }
      xv[p] = __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    }
    for (int r = 0; r < R; ++r) {
      V8 w8;
      if (tail) {
        load_tail(w + r * in + k, in - k, w8);
      } else {
        w8 = *reinterpret_cast<const V8u*>(w + r * in + k);
      }
      const V16 wv =
          __builtin_shufflevector(w8, w8, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7);
      for (int p = 0; p < P; ++p) acc[r][p] += wv * xv[p];
    }
  };
  for (int64_t k = 0; k < in8; k += 8) step(k, false);
  if (in8 < in) step(in8, true);
  for (int r = 0; r < R; ++r) {
    for (int p = 0; p < P; ++p) {
      const V8 lo = __builtin_shufflevector(acc[r][p], acc[r][p], 0, 1, 2, 3, 4, 5, 6, 7);
      const V8 hi = __builtin_shufflevector(acc[r][p], acc[r][p], 8, 9, 10, 11, 12, 13, 14, 15);
      y[(2 * p) * y_stride + r] = combine(lo);
      y[(2 * p + 1) * y_stride + r] = combine(hi);
    }
  }
}

constexpr int kPairTileTokens = 6;  // 3 pairs: 4 x 3 accumulators of 16 lanes

template <int R>
[[gnu::always_inline]] inline void tile_rows_512(int t, const float* x, int64_t x_stride,
                                                 const float* w, int64_t in, float* y,
                                                 int64_t y_stride) {
  switch (t) {
    case 6: return tile_pairs<R, 3>(x, x_stride, w, in, y, y_stride);
    case 5:
      tile_pairs<R, 2>(x, x_stride, w, in, y, y_stride);
      return tile<R, 1>(x + 4 * x_stride, x_stride, w, in, y + 4 * y_stride, y_stride);
    case 4: return tile_pairs<R, 2>(x, x_stride, w, in, y, y_stride);
    case 3:
      tile_pairs<R, 1>(x, x_stride, w, in, y, y_stride);
      return tile<R, 1>(x + 2 * x_stride, x_stride, w, in, y + 2 * y_stride, y_stride);
    case 2: return tile_pairs<R, 1>(x, x_stride, w, in, y, y_stride);
    default: return tile<R, 1>(x, x_stride, w, in, y, y_stride);
  }
}

[[gnu::always_inline]] inline void run_block_512(const Block& b) {
  for (int64_t r = b.r0; r < b.r1; r += kTileRows) {
    const int rows = static_cast<int>(std::min<int64_t>(kTileRows, b.r1 - r));
    const float* w = b.w + r * b.in;
    for (int64_t t = b.t0; t < b.t1; t += kPairTileTokens) {
      const int tokens = static_cast<int>(std::min<int64_t>(kPairTileTokens, b.t1 - t));
      const float* x = b.x + t * b.x_stride;
      float* y = b.y + t * b.y_stride + r;
      switch (rows) {
        case 4: tile_rows_512<4>(tokens, x, b.x_stride, w, b.in, y, b.y_stride); break;
        case 3: tile_rows_512<3>(tokens, x, b.x_stride, w, b.in, y, b.y_stride); break;
        case 2: tile_rows_512<2>(tokens, x, b.x_stride, w, b.in, y, b.y_stride); break;
        default: tile_rows_512<1>(tokens, x, b.x_stride, w, b.in, y, b.y_stride); break;
      }
    }
  }
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) void run_block_avx2(const Block& b) { run_block(b); }
__attribute__((target("avx512f"))) void run_block_avx512(const Block& b) { run_block_512(b); }
SimdPath cpu_simd_path() {
  if (__builtin_cpu_supports("avx512f")) return SimdPath::kAvx512;
  if (__builtin_cpu_supports("avx2")) return SimdPath::kAvx2;
  return SimdPath::kPortable;
}
#else
void run_block_avx2(const Block& b) { run_block(b); }
void run_block_avx512(const Block& b) { run_block(b); }
SimdPath cpu_simd_path() { return SimdPath::kPortable; }
#endif

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
__attribute__((target("avx2"))) void silu_mul_avx2(const float* gate, const float* up, int64_t n,
                                                   float* out) {
  silu_mul_body(gate, up, n, out);
}
#else
void silu_mul_avx2(const float* gate, const float* up, int64_t n, float* out) {
  silu_mul_body(gate, up, n, out);
}
#endif

std::atomic<SimdPath> simd_limit{SimdPath::kAvx512};

}  // namespace

float dot(const float* a, const float* b, int64_t n) {
  float y;
  tile<1, 1>(a, 0, b, n, &y, 0);
  return y;
}

SimdPath simd_path() {
  static const SimdPath cpu = cpu_simd_path();
  return std::min(cpu, simd_limit.load(std::memory_order_relaxed));
}

void set_simd_limit(SimdPath limit) { simd_limit.store(limit); }

const char* to_string(SimdPath path) {
  switch (path) {
    case SimdPath::kPortable: return "portable";
    case SimdPath::kAvx2: return "avx2";
    case SimdPath::kAvx512: return "avx512";
  }
  return "?";
}

void matmul(const float* x, int64_t x_stride, int64_t n, const float* w, int64_t out, int64_t in,
            float* y, int64_t y_stride, ThreadPool* pool) {
  FLOWKV_CHECK(n >= 0 && out >= 0 && in >= 1, "matmul of a negative or empty shape");
  if (n == 0 || out == 0) return;
  const SimdPath path = simd_path();
  void (*run)(const Block&) = path == SimdPath::kAvx512 ? run_block_avx512
                              : path == SimdPath::kAvx2 ? run_block_avx2
                                                        : run_block_portable;
  // Task blocks: 64 weight rows by 48 tokens (multiples of the tiles), so that a decode step
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

void silu_mul(const float* gate, const float* up, int64_t n, float* out) {
  if (simd_path() >= SimdPath::kAvx2) {
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

}  // namespace flowkv::runtime::cpu
