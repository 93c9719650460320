#include "kernels/random_fill.h"

#include <algorithm>

#include "kernels/cuda_check.h"
#include "runtime/model/random_weights.h"

namespace flowkv::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 132 * 32;

__global__ void __launch_bounds__(kThreads)
    RandomFillKernel(__nv_bfloat16* __restrict__ out, int64_t count, uint64_t seed,
                     uint32_t tensor, float scale, float offset) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(kThreads) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    out[i] = __float2bfloat16_rn(runtime::random_weight(seed, tensor, static_cast<uint64_t>(i),
                                                        scale, offset));
  }
}

__global__ void __launch_bounds__(kThreads)
    ConvertKernel(const float* __restrict__ in, int64_t count, __nv_bfloat16* __restrict__ out) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(kThreads) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    out[i] = __float2bfloat16_rn(in[i]);
  }
}

unsigned grid_for(int64_t count) {
  return static_cast<unsigned>(std::max<int64_t>(
      1, std::min<int64_t>((count + kThreads - 1) / kThreads, kMaxBlocks)));
}

}  // namespace

void fill_random_weights(__nv_bfloat16* out, int64_t count, uint64_t seed, uint32_t tensor,
                         float scale, float offset, cudaStream_t stream) {
  if (count <= 0) return;
  RandomFillKernel<<<grid_for(count), kThreads, 0, stream>>>(out, count, seed, tensor, scale,
                                                             offset);
  FLOWKV_CUDA_CHECK_LAUNCH();
}

void convert_f32_to_bf16(const float* in, int64_t count, __nv_bfloat16* out,
                         cudaStream_t stream) {
  if (count <= 0) return;
  ConvertKernel<<<grid_for(count), kThreads, 0, stream>>>(in, count, out);
  FLOWKV_CUDA_CHECK_LAUNCH();
}

}  // namespace flowkv::kernels
