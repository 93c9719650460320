#include "kernels/embedding.h"

#include <string>

#include "core/base/error.h"
#include "kernels/bf16_vec.cuh"
#include "kernels/cuda_check.h"

namespace flowkv::kernels {
namespace {

constexpr int kThreads = 128;

// One block per token; each thread moves 8 elements at a time.
__global__ void __launch_bounds__(kThreads)
    EmbeddingKernel(const __nv_bfloat16* __restrict__ table, const int32_t* __restrict__ tokens,
                    int32_t hidden, float* __restrict__ out) {
  const int64_t t = blockIdx.x;
  const __nv_bfloat16* src = table + static_cast<int64_t>(tokens[t]) * hidden;
  float* dst = out + t * hidden;
  for (int i = threadIdx.x * 8; i < hidden; i += kThreads * 8) {
    float v[8];
    detail::load_bf16x8(src + i, v);
    *reinterpret_cast<float4*>(dst + i) = make_float4(v[0], v[1], v[2], v[3]);
    *reinterpret_cast<float4*>(dst + i + 4) = make_float4(v[4], v[5], v[6], v[7]);
  }
}

}  // namespace

void embed_tokens(const __nv_bfloat16* table, const int32_t* tokens, int64_t num_tokens,
                  int32_t hidden, float* out, cudaStream_t stream) {
  if (hidden <= 0 || hidden % 8 != 0) {
    throw core::Error(core::ErrorKind::kUnsupported,
                      "embed_tokens: hidden size " + std::to_string(hidden) +
                          " is not a positive multiple of 8");
  }
  if (num_tokens <= 0) return;
  EmbeddingKernel<<<static_cast<unsigned>(num_tokens), kThreads, 0, stream>>>(table, tokens,
                                                                             hidden, out);
  FLOWKV_CUDA_CHECK_LAUNCH();
}

}  // namespace flowkv::kernels
