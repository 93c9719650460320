// The Hugging Face tensors of a Llama-architecture checkpoint and where each one lands in
// ModelWeights (whose q/k/v and gate/up projections are fused: a Hugging Face tensor is a
// range of rows of a fused one).
//
//   model.embed_tokens.weight                     [vocab][hidden]        -> embed
//   model.layers.N.input_layernorm.weight         [hidden]               -> attn_norm
//   model.layers.N.self_attn.q_proj.weight        [heads * hd][hidden]   -> qkv rows 0..
//   model.layers.N.self_attn.{k,v}_proj.weight    [kv_heads * hd][hidden] -> qkv rows after q (k, v)
//   model.layers.N.self_attn.{q,k,v}_proj.bias    (attention_bias only)  -> qkv_bias
//   model.layers.N.self_attn.o_proj.weight        [hidden][heads * hd]   -> o
//   model.layers.N.post_attention_layernorm.weight [hidden]              -> mlp_norm
//   model.layers.N.mlp.{gate,up}_proj.weight      [intermediate][hidden] -> gate_up (gate, up)
//   model.layers.N.mlp.down_proj.weight           [hidden][intermediate] -> down
//   model.norm.weight                             [hidden]               -> final_norm
//   lm_head.weight (not when tied)                [vocab][hidden]        -> lm_head
// Pure functions; no I/O except save_safetensors.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "runtime/model/model_weights.h"
#include "runtime/model/random_weights.h"
#include "runtime/model/safetensors.h"

namespace flowkv::runtime {

struct LlamaTensor {
  std::string name;             // the Hugging Face name
  std::vector<int64_t> shape;
  WeightTensor target;          // the ModelWeights tensor it is part of
  int32_t layer = 0;
  int64_t offset = 0;           // first element inside the target
};

// Every tensor of the model in the order above (lm_head only when untied, biases only with
// attention_bias).
std::vector<LlamaTensor> llama_tensors(const core::ModelSpec& spec);

// ModelWeights with every tensor sized for `spec` and zero (lm_head too, even when tied).
ModelWeights empty_weights(const core::ModelSpec& spec);
// The ModelWeights vector of a tensor kind (kQkvBias: empty without attention_bias).
std::vector<float>& weight_vector(ModelWeights& w, WeightTensor t, int32_t layer);
const std::vector<float>& weight_vector(const ModelWeights& w, WeightTensor t, int32_t layer);
// The values of one Hugging Face tensor inside `w`.
std::span<float> tensor_span(ModelWeights& w, const LlamaTensor& t);
std::span<const float> tensor_span(const ModelWeights& w, const LlamaTensor& t);

// Writes `w` as a Hugging Face checkpoint into `dir` (created): model.safetensors when
// shards == 1, else model-0000i-of-0000n.safetensors and model.safetensors.index.json, tensors
// dealt round-robin. For tests and demos.
void save_safetensors(const ModelWeights& w, const std::filesystem::path& dir,
                      SafetensorsDtype dtype, int32_t shards = 1);

}  // namespace flowkv::runtime
