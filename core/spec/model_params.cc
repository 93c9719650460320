// ModelSpec's figures: parameters by group, bytes as stored, KV per token and the pool geometry,
// and what a dense Llama executor could not run. docs/simulator.md ("Model families") gives the
// formulas; tests/core/spec/model_families_test.cc checks them against the published totals.
#include <algorithm>
#include <string>

#include "core/spec/model_spec.h"

namespace flowkv::core {
namespace {

// Matrices (the quantizable part) and the rest of one layer's groups.
struct LayerShapes {
  int64_t attention_matrices = 0;  // q, k, v, o (or MLA's projections)
  int64_t attention_other = 0;     // biases, q/k norms, latent norms, sinks
  int64_t dense_mlp_matrices = 0;  // gate, up, down
  int64_t dense_mlp_biases = 0;
  int64_t expert_matrices = 0;     // one routed expert
  int64_t expert_biases = 0;
  int64_t shared_matrices = 0;     // all shared experts of a layer
  int64_t shared_gate = 0;
  int64_t router = 0;              // router weights and biases
};

LayerShapes layer_shapes(const ModelSpec& m) {
  LayerShapes s;
  const int64_t h = m.hidden_size;
  if (m.is_mla()) {
    const int64_t heads = m.num_heads;
    const int64_t qk = int64_t{m.mla.qk_nope_head_dim} + m.mla.qk_rope_head_dim;
    const int64_t q = m.mla.q_lora_rank > 0
                          ? h * m.mla.q_lora_rank + int64_t{m.mla.q_lora_rank} * heads * qk
                          : h * heads * qk;
    const int64_t kv_a = h * (int64_t{m.mla.kv_lora_rank} + m.mla.qk_rope_head_dim);
    const int64_t kv_b =
        int64_t{m.mla.kv_lora_rank} * heads * (int64_t{m.mla.qk_nope_head_dim} + m.mla.v_head_dim);
    const int64_t o = heads * m.mla.v_head_dim * h;
    s.attention_matrices = q + kv_a + kv_b + o;
    s.attention_other = m.mla.kv_lora_rank + (m.mla.q_lora_rank > 0 ? m.mla.q_lora_rank : 0);
  } else {
    const int64_t q_dim = int64_t{m.num_heads} * m.head_dim;
    const int64_t kv_dim = int64_t{m.num_kv_heads} * m.head_dim;
    s.attention_matrices = h * q_dim + 2 * h * kv_dim + q_dim * h;
    if (m.attention_bias) s.attention_other += q_dim + 2 * kv_dim;
    if (m.o_proj_bias) s.attention_other += h;
    if (m.qk_norm) s.attention_other += 2 * int64_t{m.head_dim};
    if (m.attention_sinks) s.attention_other += m.num_heads;
  }
  s.dense_mlp_matrices = 3 * h * m.intermediate_size;
  if (m.mlp_bias) s.dense_mlp_biases = 2 * int64_t{m.intermediate_size} + h;
  if (m.is_moe()) {
    s.expert_matrices = 3 * h * m.moe.expert_intermediate;
    if (m.moe.expert_bias) s.expert_biases = 2 * int64_t{m.moe.expert_intermediate} + h;
    s.shared_matrices = 3 * h * m.moe.shared_intermediate;
    if (m.moe.shared_expert_gate) s.shared_gate = h;
    s.router = h * m.moe.num_experts + (m.moe.router_bias ? m.moe.num_experts : 0);
  }
  return s;
}

// Bytes of `n` quantized elements in the model's format, scales included.
int64_t quantized_bytes(const ModelSpec& m, int64_t n) {
  switch (m.quant.format) {
    case WeightFormat::kFp8:
      // One float32 scale per block of block_elements (DeepSeek: 128 x 128); per-tensor scales
      // are a few bytes and left out.
      return n + (m.quant.block_elements > 0 ? (n * 4 + m.quant.block_elements - 1) / m.quant.block_elements : 0);
    case WeightFormat::kMxfp4:
      return (n * 17 + 31) / 32;  // 4-bit values and one 8-bit scale per 32 elements
    case WeightFormat::kDtype:
      break;
  }
  return n * m.dtype_bytes;
}

int64_t dense_layers(const ModelSpec& m) { return int64_t{m.num_layers} - m.moe.num_moe_layers; }

}  // namespace

ParamCounts ModelSpec::params() const {
  const LayerShapes s = layer_shapes(*this);
  const int64_t layers = num_layers;
  const int64_t moe_layers = moe.num_moe_layers;
  ParamCounts p;
  p.embedding = int64_t{vocab_size} * hidden_size;
  p.lm_head = tie_word_embeddings ? 0 : p.embedding;
  p.attention = layers * s.attention_matrices;
  p.attention_other = layers * s.attention_other;
  p.norms = layers * norms_per_layer * int64_t{hidden_size} + hidden_size;
  p.dense_mlp = dense_layers(*this) * (s.dense_mlp_matrices + s.dense_mlp_biases);
  p.routed_experts = moe_layers * moe.num_experts * (s.expert_matrices + s.expert_biases);
  p.shared_experts = moe_layers * (s.shared_matrices + s.shared_gate);
  p.router = moe_layers * s.router;
  return p;
}

int64_t ModelSpec::active_params() const {
  const ParamCounts p = params();
  const LayerShapes s = layer_shapes(*this);
  // A tied table is also the LM head, which every token runs through.
  const int64_t lookup = tie_word_embeddings ? 0 : p.embedding;
  const int64_t chosen = int64_t{moe.num_moe_layers} * moe.experts_per_token * (s.expert_matrices + s.expert_biases);
  return p.total() - lookup - p.routed_experts + chosen;
}

int64_t ModelSpec::active_quantized_params() const {
  if (quant.format == WeightFormat::kDtype) return 0;
  const LayerShapes s = layer_shapes(*this);
  int64_t n = 0;
  if (quant.attention) n += int64_t{num_layers} * s.attention_matrices;
  if (quant.dense_mlp) n += dense_layers(*this) * s.dense_mlp_matrices;
  if (quant.shared_experts) n += int64_t{moe.num_moe_layers} * s.shared_matrices;
  if (quant.routed_experts) n += int64_t{moe.num_moe_layers} * moe.experts_per_token * s.expert_matrices;
  return n;
}

int64_t ModelSpec::expert_bytes() const {
  const LayerShapes s = layer_shapes(*this);
  if (quant.routed_experts) return quantized_bytes(*this, s.expert_matrices) + s.expert_biases * dtype_bytes;
  return (s.expert_matrices + s.expert_biases) * dtype_bytes;
}

int64_t ModelSpec::routed_expert_bytes() const {
  return int64_t{moe.num_moe_layers} * moe.num_experts * expert_bytes();
}

int64_t ModelSpec::weight_bytes() const {
  if (quant.format == WeightFormat::kDtype) return num_params() * dtype_bytes;
  const LayerShapes s = layer_shapes(*this);
  const ParamCounts p = params();
  int64_t quantized = 0;
  if (quant.attention) quantized += int64_t{num_layers} * s.attention_matrices;
  if (quant.dense_mlp) quantized += dense_layers(*this) * s.dense_mlp_matrices;
  if (quant.shared_experts) quantized += int64_t{moe.num_moe_layers} * s.shared_matrices;
  const int64_t rest = p.total() - p.routed_experts - quantized;
  return rest * dtype_bytes + quantized_bytes(*this, quantized) + routed_expert_bytes();
}

int64_t ModelSpec::kv_bytes_for_tokens(int64_t tokens) const {
  const int64_t full_layers = int64_t{num_layers} - window.num_layers;
  const int64_t windowed = window.num_layers > 0 ? std::min<int64_t>(tokens, window.tokens) : 0;
  return kv_bytes_per_token_per_layer() * (full_layers * tokens + int64_t{window.num_layers} * windowed);
}

KvGeometry ModelSpec::kv_geometry(int32_t block_size, int64_t num_blocks) const {
  KvGeometry g;
  g.num_layers = num_layers;
  if (is_mla()) {
    // One latent per token and layer: // [..][num_layers][1][block_size][1][kv_lora_rank + qk_rope_head_dim]
    g.num_kv_heads = 1;
    g.head_dim = mla.kv_lora_rank + mla.qk_rope_head_dim;
    g.kv_parts = 1;
  } else {
    g.num_kv_heads = num_kv_heads;
    g.head_dim = head_dim;
  }
  g.block_size = block_size;
  g.dtype_bytes = kv_dtype_bytes;
  g.num_blocks = num_blocks;
  g.window_layers = window.num_layers;
  g.window_tokens = window.tokens;
  return g;
}

std::string ModelSpec::first_unsupported_feature() const {
  if (!unmodelled.empty()) return "a config key FlowKV does not model (" + unmodelled.front() + ")";
  if (is_moe()) {
    return "mixture of experts (" + std::to_string(moe.num_experts) + " experts, " +
           std::to_string(moe.experts_per_token) + " per token)";
  }
  if (is_mla()) return "multi-head latent attention (kv_lora_rank " + std::to_string(mla.kv_lora_rank) + ")";
  if (window.num_layers > 0) {
    return "sliding-window attention (sliding_window " + std::to_string(window.tokens) + " on " +
           std::to_string(window.num_layers) + " of " + std::to_string(num_layers) + " layers)";
  }
  if (quant.format != WeightFormat::kDtype) return "quantized weights (quantization_config " + quant.method + ")";
  if (kv_dtype_bytes != dtype_bytes) {
    return "a KV cache of " + std::to_string(kv_dtype_bytes) + "-byte elements (kv.dtype) under " +
           std::to_string(dtype_bytes) + "-byte weights";
  }
  if (o_proj_bias) return "an output-projection bias (attention_bias)";
  if (mlp_bias) return "MLP biases (mlp_bias)";
  if (qk_norm) return "q/k norms (model_type " + model_type + ")";
  if (attention_sinks) return "attention sinks (model_type " + model_type + ")";
  if (norms_per_layer != 2) return std::to_string(norms_per_layer) + " norms per layer (model_type " + model_type + ")";
  if (hidden_act != "silu") return "the activation " + hidden_act + " (hidden_act)";
  if (!rope_scaling_unsupported.empty()) return "rope_scaling: " + rope_scaling_unsupported;
  return "";
}

}  // namespace flowkv::core
