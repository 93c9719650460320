#include "kernels/swiglu.h"

#include <algorithm>
#include <string>

#include "core/base/error.h"
#include "kernels/bf16_vec.cuh"
#include "kernels/cuda_check.h"

namespace flowkv::kernels {
namespace {

constexpr int kThreads = 256;

// Grid-stride over groups of 8 outputs.
__global__ void __launch_bounds__(kThreads)
    SwigluKernel(const __nv_bfloat16* __restrict__ gate_up, int64_t num_tokens,
                 int32_t intermediate, __nv_bfloat16* __restrict__ out) {
  const int64_t groups_per_row = intermediate / 8;
  const int64_t total = num_tokens * groups_per_row;
  for (int64_t v = blockIdx.x * static_cast<int64_t>(kThreads) + threadIdx.x; v < total;
       v += static_cast<int64_t>(gridDim.x) * kThreads) {
    const int64_t t = v / groups_per_row;
    const int64_t i = (v - t * groups_per_row) * 8;
    float g[8];
    float u[8];
    detail::load_bf16x8(gate_up + t * 2 * intermediate + i, g);
    detail::load_bf16x8(gate_up + t * 2 * intermediate + intermediate + i, u);
    float o[8];
#pragma unroll
    for (int j = 0; j < 8; ++j) o[j] = g[j] / (1.0f + expf(-g[j])) * u[j];
    detail::store_bf16x8(out + t * intermediate + i, o);
  }
}

}  // namespace

void swiglu(const __nv_bfloat16* gate_up, int64_t num_tokens, int32_t intermediate,
            __nv_bfloat16* out, cudaStream_t stream) {
  if (intermediate <= 0 || intermediate % 8 != 0) {
    throw core::Error(core::ErrorKind::kUnsupported,
                      "swiglu: intermediate size " + std::to_string(intermediate) +
                          " is not a positive multiple of 8");
  }
  if (num_tokens <= 0) return;
  const int64_t total = num_tokens * (intermediate / 8);
  const int64_t blocks = std::min<int64_t>((total + kThreads - 1) / kThreads, 132 * 16);
  SwigluKernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(gate_up, num_tokens,
                                                                       intermediate, out);
  FLOWKV_CUDA_CHECK_LAUNCH();
}

}  // namespace flowkv::kernels
