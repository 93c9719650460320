// Weights on the device without a host copy: element i of a tensor is
// runtime::random_weight(seed, tensor, i, scale, offset) (runtime/model/random_weights.h), the
// very function the CPU executor evaluates, stored as bf16. Every such value is representable
// in bf16, so the device tensor equals the host float32 one bit for bit.
//
// And the upload path of loaded weights: float32 -> bf16, rounded to nearest even.
// Only enqueue work on `stream`.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace flowkv::kernels {

void fill_random_weights(__nv_bfloat16* out,  // [count] bf16, row-major as the tensor
                         int64_t count, uint64_t seed, uint32_t tensor, float scale,
                         float offset, cudaStream_t stream);

void convert_f32_to_bf16(const float* in,       // [count] f32
                         int64_t count,
                         __nv_bfloat16* out,    // [count] bf16
                         cudaStream_t stream);

}  // namespace flowkv::kernels
