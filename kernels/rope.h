// Rotary position embedding of q and k, Hugging Face "rotate_half" convention: dimension i of a
// head pairs with i + head_dim/2, rotated by the angle position * inv_freq[i].
//
// rope_inv_freq() gives the frequencies of a model: theta^(-2i/head_dim), then the llama3
// rope_scaling of Hugging Face's _compute_llama3_parameters when the spec has one, computed in
// double on the host. The kernel forms each angle in double (position * inv_freq[i]) and
// rotates in float32, so large positions lose no precision to a float32 angle.
//
// qkv_bias_rope() works in place on the fused QKV projection output: it adds the q/k/v bias
// (when given) to every column, then rotates the q and k heads, rounding once to bf16.
// Element-wise per token, so batch invariant. Head dims 32, 64 and 128 (kUnsupported otherwise).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "core/spec/model_spec.h"

namespace flowkv::kernels {

// [head_dim / 2] inverse frequencies (radians per position).
std::vector<double> rope_inv_freq(const core::ModelSpec& spec);

void qkv_bias_rope(__nv_bfloat16* qkv,          // [num_tokens][(num_heads + 2 num_kv_heads) head_dim]
                   int64_t num_tokens, int32_t num_heads, int32_t num_kv_heads, int32_t head_dim,
                   const __nv_bfloat16* bias,   // [(num_heads + 2 num_kv_heads) head_dim] or null
                   const int32_t* positions,    // [num_tokens]
                   const double* inv_freq,      // [head_dim / 2] (device copy of rope_inv_freq)
                   cudaStream_t stream);

}  // namespace flowkv::kernels
