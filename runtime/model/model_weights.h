// ModelWeights: a Llama-architecture model's weights in host memory, float32, in the layout
// both executors use (fused QKV and gate-up projections, row-major [out][in]).
//
// Made either from the seed (random_weights: the pure function of runtime/model/random_weights.h,
// the same values a CUDA device fills in place) or from Hugging Face safetensors
// (load_safetensors: one model.safetensors, or shards listed by model.safetensors.index.json;
// BF16, F16 or F32 tensors; Llama tensor names). A tensor missing, of the wrong shape or dtype,
// or a config feature the executors do not implement is an input error naming it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "core/spec/model_spec.h"

namespace flowkv::runtime {

struct LayerWeights {
  std::vector<float> attn_norm;  // [hidden]
  std::vector<float> qkv;        // [(num_heads + 2 num_kv_heads) * head_dim][hidden]: q, k, v rows
  std::vector<float> qkv_bias;   // [(num_heads + 2 num_kv_heads) * head_dim]; empty without bias
  std::vector<float> o;          // [hidden][num_heads * head_dim]
  std::vector<float> mlp_norm;   // [hidden]
  std::vector<float> gate_up;    // [2 * intermediate][hidden]: gate rows, then up rows
  std::vector<float> down;       // [hidden][intermediate]
};

struct ModelWeights {
  core::ModelSpec spec;
  uint64_t seed = 0;             // random weights: the seed; loaded weights: 0
  bool random = true;            // made by random_weights()
  std::vector<float> embed;      // [vocab][hidden]
  std::vector<LayerWeights> layers;
  std::vector<float> final_norm; // [hidden]
  std::vector<float> lm_head;    // [vocab][hidden] (a copy of embed when tied)
};

// Refuses (input error naming the feature) a model the executors cannot run: a rope scaling
// other than llama3, a KV dtype other than bf16/fp16/fp32, ...
void check_executable(const core::ModelSpec& spec);

ModelWeights random_weights(const core::ModelSpec& spec, uint64_t seed);
ModelWeights load_safetensors(const core::ModelSpec& spec, const std::filesystem::path& dir);

}  // namespace flowkv::runtime
