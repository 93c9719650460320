// Internal to runtime/cpu: 8-lane float vectors (GCC's vector extension) and the few
// operations on them that several kernels share. Everything is always_inline so that a kernel
// compiled for the x86-64 baseline and the same kernel compiled inside a target("avx2")
// function both inline it: the same IEEE operations in the same order, narrower or wider
// registers (runtime/cpu/kernels.h states the orders).
#pragma once

#include <cstdint>
#include <cstring>

namespace flowkv::runtime::cpu::detail {

using V8i = int32_t __attribute__((vector_size(32)));
using V8 = float __attribute__((vector_size(32)));
// An unaligned view of 8 floats.
using V8u = float __attribute__((vector_size(32), aligned(4), may_alias));
// 8 copies of v. (A macro: a function returning a 32-byte vector changes the ABI outside AVX
// code.)
#define FLOWKV_V8_SPLAT(v) (V8{(v), (v), (v), (v), (v), (v), (v), (v)})

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

// e^x, our own rather than libm's: every machine computes the same bits (glibc picks an FMA
// variant of expf at run time) and the loops vectorise. Cephes' expf: x = n ln2 + r with ln2 in
// two parts, e^r = 1 + r + r^2 P(r), times 2^n; every operation rounded (no FMA); relative
// error about 1e-7. x is clamped to [-87.3, 88]: e^-87.3 (1.2e-38, normal) stands for smaller
// values, e^88 for larger ones.
// In place on 8 lanes; exp_fixed runs the same code on one lane, so a value's exp does not
// depend on whether it went through a vector or the scalar tail.
[[gnu::always_inline]] inline void exp8(V8& x) {
  x = x < FLOWKV_V8_SPLAT(-87.3f) ? FLOWKV_V8_SPLAT(-87.3f) : x;
  x = x > FLOWKV_V8_SPLAT(88.0f) ? FLOWKV_V8_SPLAT(88.0f) : x;
  // Round x log2(e) to the nearest integer (exact for |x log2 e| < 2^22).
  const V8 n = (x * FLOWKV_V8_SPLAT(1.44269504088896341f) + FLOWKV_V8_SPLAT(12582912.0f)) - FLOWKV_V8_SPLAT(12582912.0f);
  V8 r = x - n * FLOWKV_V8_SPLAT(0.693359375f);
  r = r + n * FLOWKV_V8_SPLAT(2.12194440e-4f);
  V8 p = FLOWKV_V8_SPLAT(1.9875691500e-4f);
  p = p * r + FLOWKV_V8_SPLAT(1.3981999507e-3f);
  p = p * r + FLOWKV_V8_SPLAT(8.3334519073e-3f);
  p = p * r + FLOWKV_V8_SPLAT(4.1665795894e-2f);
  p = p * r + FLOWKV_V8_SPLAT(1.6666665459e-1f);
  p = p * r + FLOWKV_V8_SPLAT(5.0000001201e-1f);
  const V8 e = p * (r * r) + r + FLOWKV_V8_SPLAT(1.0f);
  const V8i bits = (__builtin_convertvector(n, V8i) + 127) << 23;
  V8 two_n;
  std::memcpy(&two_n, &bits, sizeof(two_n));
  x = e * two_n;
}

[[gnu::always_inline]] inline float exp_fixed(float v) {
  V8 x = FLOWKV_V8_SPLAT(v);
  exp8(x);
  return x[0];
}

// x[i] = exp(x[i] + add) for i < n, 8 at a time.
[[gnu::always_inline]] inline void exp_array(float* x, int64_t n, float add) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    V8 v = *reinterpret_cast<const V8u*>(x + i) + FLOWKV_V8_SPLAT(add);
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

}  // namespace flowkv::runtime::cpu::detail
