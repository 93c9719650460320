// Device helpers for the executor's element-wise kernels: 8 bf16 (16 bytes) at a time to and
// from float. Callers keep pointers 16-byte aligned (row strides multiples of 8 elements).
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

namespace flowkv::kernels::detail {

struct alignas(16) Bf16x8 {
  __nv_bfloat162 pair[4];
};

__device__ __forceinline__ void load_bf16x8(const __nv_bfloat16* p, float (&out)[8]) {
  const Bf16x8 v = *reinterpret_cast<const Bf16x8*>(p);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 f = __bfloat1622float2(v.pair[i]);
    out[2 * i] = f.x;
    out[2 * i + 1] = f.y;
  }
}

__device__ __forceinline__ void store_bf16x8(__nv_bfloat16* p, const float (&in)[8]) {
  Bf16x8 v;
#pragma unroll
  for (int i = 0; i < 4; ++i) v.pair[i] = __floats2bfloat162_rn(in[2 * i], in[2 * i + 1]);
  *reinterpret_cast<Bf16x8*>(p) = v;
}

}  // namespace flowkv::kernels::detail
