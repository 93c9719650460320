// The math of a Llama forward on the CPU, shared by the paged executor (cpu_executor.h) and the
// plain reference (reference_forward.h). None of it knows about KV pools or block tables.
//
// Every function computes each output element with a floating-point order fixed by the
// function alone, never by how many rows or tokens are passed or by which thread runs it: that
// is what makes the CPU executor's tokens bit-identical whatever the batching (see
// runtime/executor.h). In particular:
//  - dot(a, b, n) is the one reduction: lane l (0..7) accumulates a[i] * b[i] for the i with
//    i % 8 == l in increasing i (a product rounded, then a sum rounded: no fused multiply-add;
//    the runtime library is built with -ffp-contract=off), the inputs read as zero-padded to a
//    multiple of 8; then the lanes are combined as ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)).
//  - matmul computes every element as dot() does (tiles of several rows and tokens share the
//    loads, not the sums); the portable, AVX2 and AVX-512 paths give the same bits (a test
//    checks).
//  - an attention score sums q[d] * k[d] in increasing d (K is kept transposed so that 8
//    positions share a vector);
//  - softmax uses our fixed_exp (not libm's), sums its weights in dot()'s lane order, and the
//    weighted sum over positions runs in increasing position for each output element.
// Pure functions; thread-safe; no allocation except where a scratch vector is returned.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/spec/model_spec.h"

namespace flowkv::runtime {

class ThreadPool;

namespace cpu {

// The canonical dot product (see the header comment).
float dot(const float* a, const float* b, int64_t n);

// y[t][r] = dot(x[t], w[r], in) for t < n, r < out, each bit-identical to dot().
//   x: [n][in] (rows x_stride apart), w: [out][in], y: [n][out] (rows y_stride apart).
// With a pool, tiles of rows and tokens run on its threads.
void matmul(const float* x, int64_t x_stride, int64_t n, const float* w, int64_t out, int64_t in,
            float* y, int64_t y_stride, ThreadPool* pool = nullptr);

// The code paths, all giving the same bits: the x86-64 baseline build, an AVX2 build of the
// same source, and for the matmul an AVX-512 tile that holds two tokens' 8 lanes per register.
enum class SimdPath : int32_t { kPortable = 0, kAvx2 = 1, kAvx512 = 2 };
// The widest path the CPU runs (checked once), capped by set_simd_limit.
SimdPath simd_path();
// Caps the path (tests compare the paths bit for bit; the default cap is kAvx512).
void set_simd_limit(SimdPath limit);
const char* to_string(SimdPath path);

// y = x * (1 / sqrt(mean(x^2) + eps)) * w, elementwise in that order; the mean uses dot(x, x).
//   x, y: [n]; w: [n]. y may alias x.
void rms_norm(const float* x, const float* w, int64_t n, float eps, float* y);

// RoPE frequencies, [head_dim / 2]: theta^(-2i / head_dim), then Llama 3's rope_scaling when
// the spec has it (transformers' _compute_llama3_parameters, term by term); computed in double
// and rounded to float (Hugging Face computes them in float32: at most an ulp apart).
std::vector<float> rope_inv_freq(const core::ModelSpec& spec);
// cos and sin of one position's angles: angle_i = float(pos) * inv_freq[i] in float32, as
// Hugging Face computes it, then its cosine and sine in double rounded to float.
//   inv_freq, cos_out, sin_out: [half] (half = head_dim / 2).
void rope_angles(int64_t pos, const float* inv_freq, int32_t half, float* cos_out,
                 float* sin_out);
// Rotates one head in place, Hugging Face's rotate_half convention: element i pairs with
// i + head_dim / 2: (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin).
//   v: [head_dim]; cos, sin: [head_dim / 2] from rope_angles.
void apply_rope(float* v, const float* cos, const float* sin, int32_t head_dim);

// Attention reads K transposed per KV head, kt: [head_dim][kt_stride], position j in column j,
// kt_stride >= scores_stride(ctx); the columns from ctx up to scores_stride(ctx) are read and
// their scores ignored (any values). Score rows are at least scores_stride(ctx) apart too.
int64_t scores_stride(int64_t ctx);

// Raw scores s[r][j] = sum_d q[r][d] * kt[d][j] for j < ctx, summed in increasing d from +0
// (one chain per score: 8 positions share a vector, so there is no horizontal combine).
//   q: [rows][head_dim] (q_stride apart), scores: [rows][s_stride].
void attention_scores(const float* q, int64_t q_stride, int64_t rows, const float* kt,
                      int64_t kt_stride, int64_t ctx, int32_t head_dim, float* scores,
                      int64_t s_stride);

// Causal attention of `group` query heads (one GQA group, all at the same position) over the
// positions [0, ctx) of one KV head:
//   q: [group][head_dim] (after RoPE), kt: as above, v: [ctx][head_dim] (as read back from the
//   cache), scores: scratch of [group][scores_stride(ctx)], out: [group][head_dim].
// attention_scores, then softmax_weighted_sum per query head.
void attend(const float* q, int32_t group, const float* kt, int64_t kt_stride, const float* v,
            int64_t ctx, int32_t head_dim, float scale, float* scores, float* out);

// The rest of one query head's attention once its raw scores are known:
// s_j *= scale; w_j = fixed_exp(s_j - max_j s_j); total = the sum of w in dot()'s lane order;
// out[d] = (sum_j w_j v_j[d], in increasing j from +0) / total.
//   scores: [ctx] (overwritten with w), v: [ctx][head_dim], out: [head_dim].
// A caller may compute the scores of many tokens of a head at once (attention_scores): every
// score has the same order whatever the rows and the context, so the result is attend()'s.
void softmax_weighted_sum(float* scores, int64_t ctx, const float* v, int32_t head_dim,
                          float scale, float* out);

// e^x computed by our own code (Cephes' expf reduction and polynomial, each operation rounded,
// x clamped to [-87.3, 88]), so that every machine gives the same bits and loops vectorise;
// libm's expf is chosen at run time (FMA or not) and may differ in the last bit between CPUs.
float fixed_exp(float x);

// out[i] = silu(gate[i]) * up[i], silu(x) = x / (1 + fixed_exp(-x)).  gate, up, out: [n].
void silu_mul(const float* gate, const float* up, int64_t n, float* out);

// Index of the largest value; ties go to the lowest index. x: [n], n >= 1.
int32_t argmax(const float* x, int64_t n);

// The KV cache's element types: 2 bytes = bf16 (rounded to nearest even), 4 = float32.
// store_kv: src [n] floats -> dst n elements; load_kv: the reverse (exact).
void store_kv(const float* src, std::byte* dst, int64_t n, int32_t dtype_bytes);
void load_kv(const std::byte* src, float* dst, int64_t n, int32_t dtype_bytes);

}  // namespace cpu
}  // namespace flowkv::runtime
