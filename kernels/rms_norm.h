// RMSNorm of float32 residual rows into bf16: out[i] = bf16(x[r] * rsqrt(mean(x[r]^2) + eps) * w)
// with r = rows[i] (or i when rows is null: the final norm gathers only the sampled rows).
//
// The residual add is fused elsewhere: the o_proj and down GEMMs accumulate into the float32
// residual (kernels/gemm.h, accumulate = true), so a norm reads a residual that is already
// summed. Accumulation in float32, one block per row with a fixed reduction tree: a row's result
// depends only on that row (batch invariant).
//
// Contract: hidden is a positive multiple of 8; pointers 16-byte aligned; only enqueues work.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace flowkv::kernels {

void rms_norm(const float* x,                  // [*][hidden] f32
              const int32_t* rows,             // [num_rows] row of x for each output row, or null
              int64_t num_rows, int32_t hidden,
              const __nv_bfloat16* weight,     // [hidden] bf16
              float eps,
              __nv_bfloat16* out,              // [num_rows][hidden] bf16
              cudaStream_t stream);

}  // namespace flowkv::kernels
