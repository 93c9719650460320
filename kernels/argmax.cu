#include "kernels/argmax.h"

#include <string>

#include "core/base/error.h"
#include "kernels/cuda_check.h"

namespace flowkv::kernels {
namespace {

constexpr int kThreads = 512;
constexpr int kWarps = kThreads / 32;

// (value, index) with the order "larger value, then lower index"; NaN maps to -inf first.
struct Best {
  float value;
  int32_t index;
};

__device__ __forceinline__ Best better(Best a, Best b) {
  if (b.value > a.value || (b.value == a.value && b.index < a.index)) return b;
  return a;
}

__global__ void __launch_bounds__(kThreads)
    ArgmaxKernel(const float* __restrict__ logits, int32_t vocab, int32_t* __restrict__ out) {
  __shared__ Best warp_best[kWarps];
  const float* row = logits + static_cast<int64_t>(blockIdx.x) * vocab;
  Best best{-INFINITY, vocab};
  for (int32_t i = threadIdx.x; i < vocab; i += kThreads) {
    float v = row[i];
    if (isnan(v)) v = -INFINITY;
    best = better(best, Best{v, i});
  }
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) {
    Best other;
    other.value = __shfl_xor_sync(0xffffffffu, best.value, offset);
    other.index = __shfl_xor_sync(0xffffffffu, best.index, offset);
    best = better(best, other);
  }
  if (threadIdx.x % 32 == 0) warp_best[threadIdx.x / 32] = best;
  __syncthreads();
  if (threadIdx.x == 0) {
    Best b = warp_best[0];
    for (int w = 1; w < kWarps; ++w) b = better(b, warp_best[w]);
    // Every element was -inf or NaN: index 0 (lowest), as the ties rule says.
    out[blockIdx.x] = b.index < vocab ? b.index : 0;
  }
}

}  // namespace

void argmax_rows(const float* logits, int64_t num_rows, int32_t vocab, int32_t* out,
                 cudaStream_t stream) {
  if (vocab <= 0) {
    throw core::Error(core::ErrorKind::kInvalidInput,
                      "argmax_rows: vocab " + std::to_string(vocab) + " is not positive");
  }
  if (num_rows <= 0) return;
  ArgmaxKernel<<<static_cast<unsigned>(num_rows), kThreads, 0, stream>>>(logits, vocab, out);
  FLOWKV_CUDA_CHECK_LAUNCH();
}

}  // namespace flowkv::kernels
