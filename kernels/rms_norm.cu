#include "kernels/rms_norm.h"

#include <string>

#include "core/base/error.h"
#include "kernels/bf16_vec.cuh"
#include "kernels/cuda_check.h"

namespace flowkv::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;

__global__ void __launch_bounds__(kThreads)
    RmsNormKernel(const float* __restrict__ x, const int32_t* __restrict__ rows, int32_t hidden,
                  const __nv_bfloat16* __restrict__ weight, float eps,
                  __nv_bfloat16* __restrict__ out) {
  __shared__ float warp_sums[kWarps];
  const int64_t row = rows ? rows[blockIdx.x] : blockIdx.x;
  const float* src = x + row * hidden;
  __nv_bfloat16* dst = out + static_cast<int64_t>(blockIdx.x) * hidden;

  // Fixed order: each thread its strided elements, then a butterfly within the warp, then warp
  // 0 adds the warps' sums in order.
  float sum = 0.0f;
  for (int i = threadIdx.x * 8; i < hidden; i += kThreads * 8) {
    const float4 a = *reinterpret_cast<const float4*>(src + i);
    const float4 b = *reinterpret_cast<const float4*>(src + i + 4);
    sum += a.x * a.x + a.y * a.y + a.z * a.z + a.w * a.w;
    sum += b.x * b.x + b.y * b.y + b.z * b.z + b.w * b.w;
  }
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = sum;
  __syncthreads();
  float total = 0.0f;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) total += warp_sums[w];
  const float inv = rsqrtf(total / static_cast<float>(hidden) + eps);

  for (int i = threadIdx.x * 8; i < hidden; i += kThreads * 8) {
    const float4 a = *reinterpret_cast<const float4*>(src + i);
    const float4 b = *reinterpret_cast<const float4*>(src + i + 4);
    float w[8];
    detail::load_bf16x8(weight + i, w);
    const float v[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
    float o[8];
#pragma unroll
    for (int j = 0; j < 8; ++j) o[j] = v[j] * inv * w[j];
    detail::store_bf16x8(dst + i, o);
  }
}

}  // namespace

void rms_norm(const float* x, const int32_t* rows, int64_t num_rows, int32_t hidden,
              const __nv_bfloat16* weight, float eps, __nv_bfloat16* out, cudaStream_t stream) {
  if (hidden <= 0 || hidden % 8 != 0) {
    throw core::Error(core::ErrorKind::kUnsupported,
                      "rms_norm: hidden size " + std::to_string(hidden) +
                          " is not a positive multiple of 8");
  }
  if (num_rows <= 0) return;
  RmsNormKernel<<<static_cast<unsigned>(num_rows), kThreads, 0, stream>>>(x, rows, hidden,
                                                                         weight, eps, out);
  FLOWKV_CUDA_CHECK_LAUNCH();
}

}  // namespace flowkv::kernels
