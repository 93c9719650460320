// Embedding gather: the executor's residual stream starts as the embedding rows of the tokens,
// widened to float32 (the residual stays float32 through the layers; see runtime/cuda/forward.h).
//
// Contract: hidden is a positive multiple of 8; token ids are in [0, vocab) (validated on the
// host by the caller: the kernel cannot report a bad id); pointers 16-byte aligned. Only enqueues
// work on `stream`.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace flowkv::kernels {

// out[t][:] = float(table[tokens[t]][:]).
void embed_tokens(const __nv_bfloat16* table,  // [vocab][hidden] bf16
                  const int32_t* tokens,       // [num_tokens]
                  int64_t num_tokens, int32_t hidden,
                  float* out,                  // [num_tokens][hidden] f32
                  cudaStream_t stream);

}  // namespace flowkv::kernels
