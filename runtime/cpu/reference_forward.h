// reference_generate: a plain forward for one request, what the paged CPU executor is checked
// against. Same math (runtime/cpu/kernels.h), none of the paged addressing: the KV cache is one
// contiguous buffer per layer, // [num_layers][2][positions][num_kv_heads][head_dim], in the
// pool's element type (bf16 when kv_dtype_bytes == 2, float32 when 4), written before it is
// read, as the executor does with its pool.
//
// The prompt is one prefill (all its tokens in one forward), which gives the first output
// token; each further output token is one decode step of the previous one. Single-threaded.
// Errors: an empty prompt, a token outside the vocabulary or a KV dtype other than 2 or 4 are
// kInternal errors (test inputs).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "runtime/model/model_weights.h"

namespace flowkv::runtime {

std::vector<int32_t> reference_generate(const ModelWeights& weights, int32_t kv_dtype_bytes,
                                        std::span<const int32_t> prompt, int64_t output_tokens);

// The same, also returning each output token's logits: [output_tokens][vocab].
std::vector<int32_t> reference_generate(const ModelWeights& weights, int32_t kv_dtype_bytes,
                                        std::span<const int32_t> prompt, int64_t output_tokens,
                                        std::vector<float>& logits);

}  // namespace flowkv::runtime
