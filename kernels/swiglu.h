// SwiGLU of the fused gate-up projection: out[t][i] = bf16(silu(g) * u) with g = gate_up[t][i]
// and u = gate_up[t][intermediate + i] (the weights hold the gate rows, then the up rows), in
// float32. Element-wise, so batch invariant.
//
// Contract: intermediate is a positive multiple of 8; pointers 16-byte aligned; only enqueues.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace flowkv::kernels {

void swiglu(const __nv_bfloat16* gate_up,  // [num_tokens][2 * intermediate] bf16
            int64_t num_tokens, int32_t intermediate,
            __nv_bfloat16* out,            // [num_tokens][intermediate] bf16
            cudaStream_t stream);

}  // namespace flowkv::kernels
