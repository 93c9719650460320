#include "runtime/model/llama_tensors.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <fstream>

#include "core/base/error.h"

namespace flowkv::runtime {

std::vector<LlamaTensor> llama_tensors(const core::ModelSpec& spec) {
  const int64_t h = spec.hidden_size;
  const int64_t q_rows = int64_t{spec.num_heads} * spec.head_dim;
  const int64_t kv_rows = int64_t{spec.num_kv_heads} * spec.head_dim;
  const int64_t inter = spec.intermediate_size;
  std::vector<LlamaTensor> out;
  out.push_back({"model.embed_tokens.weight", {spec.vocab_size, h}, WeightTensor::kEmbed, 0, 0});
  for (int32_t l = 0; l < spec.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    out.push_back({p + "input_layernorm.weight", {h}, WeightTensor::kAttnNorm, l, 0});
    out.push_back({p + "self_attn.q_proj.weight", {q_rows, h}, WeightTensor::kQkv, l, 0});
    out.push_back({p + "self_attn.k_proj.weight", {kv_rows, h}, WeightTensor::kQkv, l, q_rows * h});
    out.push_back({p + "self_attn.v_proj.weight", {kv_rows, h}, WeightTensor::kQkv, l,
                   (q_rows + kv_rows) * h});
    if (spec.attention_bias) {
      out.push_back({p + "self_attn.q_proj.bias", {q_rows}, WeightTensor::kQkvBias, l, 0});
      out.push_back({p + "self_attn.k_proj.bias", {kv_rows}, WeightTensor::kQkvBias, l, q_rows});
      out.push_back({p + "self_attn.v_proj.bias", {kv_rows}, WeightTensor::kQkvBias, l,
                     q_rows + kv_rows});
    }
    out.push_back({p + "self_attn.o_proj.weight", {h, q_rows}, WeightTensor::kO, l, 0});
    out.push_back({p + "post_attention_layernorm.weight", {h}, WeightTensor::kMlpNorm, l, 0});
    out.push_back({p + "mlp.gate_proj.weight", {inter, h}, WeightTensor::kGateUp, l, 0});
    out.push_back({p + "mlp.up_proj.weight", {inter, h}, WeightTensor::kGateUp, l, inter * h});
    out.push_back({p + "mlp.down_proj.weight", {h, inter}, WeightTensor::kDown, l, 0});
  }
  out.push_back({"model.norm.weight", {h}, WeightTensor::kFinalNorm, 0, 0});
  if (!spec.tie_word_embeddings) {
    out.push_back({"lm_head.weight", {spec.vocab_size, h}, WeightTensor::kLmHead, 0, 0});
  }
  return out;
}

ModelWeights empty_weights(const core::ModelSpec& spec) {
  const auto size = [](int64_t n) { return static_cast<size_t>(n); };
  const int64_t h = spec.hidden_size;
  const int64_t qkv_rows = int64_t{spec.num_heads + 2 * spec.num_kv_heads} * spec.head_dim;
  const int64_t q_dim = int64_t{spec.num_heads} * spec.head_dim;
  const int64_t inter = spec.intermediate_size;
  ModelWeights w;
  w.spec = spec;
  w.embed.assign(size(int64_t{spec.vocab_size} * h), 0.0f);
  w.layers.resize(static_cast<size_t>(spec.num_layers));
  for (LayerWeights& l : w.layers) {
    l.attn_norm.assign(size(h), 0.0f);
    l.qkv.assign(size(qkv_rows * h), 0.0f);
    if (spec.attention_bias) l.qkv_bias.assign(size(qkv_rows), 0.0f);
    l.o.assign(size(h * q_dim), 0.0f);
    l.mlp_norm.assign(size(h), 0.0f);
    l.gate_up.assign(size(2 * inter * h), 0.0f);
    l.down.assign(size(h * inter), 0.0f);
  }
  w.final_norm.assign(size(h), 0.0f);
  w.lm_head.assign(size(int64_t{spec.vocab_size} * h), 0.0f);
  return w;
}

std::vector<float>& weight_vector(ModelWeights& w, WeightTensor t, int32_t layer) {
  switch (t) {
    case WeightTensor::kEmbed: return w.embed;
    case WeightTensor::kFinalNorm: return w.final_norm;
    case WeightTensor::kLmHead: return w.lm_head;
    default: break;
  }
  FLOWKV_CHECK(layer >= 0 && layer < static_cast<int32_t>(w.layers.size()),
               "layer " + std::to_string(layer) + " of " + std::to_string(w.layers.size()));
  LayerWeights& l = w.layers[static_cast<size_t>(layer)];
  switch (t) {
    case WeightTensor::kAttnNorm: return l.attn_norm;
    case WeightTensor::kQkv: return l.qkv;
    case WeightTensor::kQkvBias: return l.qkv_bias;
    case WeightTensor::kO: return l.o;
    case WeightTensor::kMlpNorm: return l.mlp_norm;
    case WeightTensor::kGateUp: return l.gate_up;
    case WeightTensor::kDown: return l.down;
    default: break;
  }
  FLOWKV_CHECK(false, "unknown weight tensor " + std::to_string(static_cast<uint32_t>(t)));
  return w.embed;  // unreachable
}

const std::vector<float>& weight_vector(const ModelWeights& w, WeightTensor t, int32_t layer) {
  return weight_vector(const_cast<ModelWeights&>(w), t, layer);
}

namespace {
int64_t element_count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}
}  // namespace

std::span<float> tensor_span(ModelWeights& w, const LlamaTensor& t) {
  std::vector<float>& v = weight_vector(w, t.target, t.layer);
  const int64_t n = element_count(t.shape);
  FLOWKV_CHECK(t.offset >= 0 && t.offset + n <= static_cast<int64_t>(v.size()),
               "tensor '" + t.name + "' outside its ModelWeights tensor");
  return std::span<float>(v).subspan(static_cast<size_t>(t.offset), static_cast<size_t>(n));
}

std::span<const float> tensor_span(const ModelWeights& w, const LlamaTensor& t) {
  return tensor_span(const_cast<ModelWeights&>(w), t);
}

void save_safetensors(const ModelWeights& w, const std::filesystem::path& dir,
                      SafetensorsDtype dtype, int32_t shards) {
  FLOWKV_CHECK(shards >= 1, "shards must be positive");
  std::filesystem::create_directories(dir);
  const std::vector<LlamaTensor> tensors = llama_tensors(w.spec);
  std::vector<std::vector<NamedTensor>> per_shard(static_cast<size_t>(shards));
  nlohmann::json weight_map = nlohmann::json::object();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const size_t shard = i % static_cast<size_t>(shards);
    per_shard[shard].push_back({tensors[i].name, tensors[i].shape, tensor_span(w, tensors[i])});
  }
  for (int32_t s = 0; s < shards; ++s) {
    std::string file = "model.safetensors";
    if (shards > 1) {
      char name[64];
      std::snprintf(name, sizeof(name), "model-%05d-of-%05d.safetensors", s + 1, shards);
      file = name;
    }
    write_safetensors(dir / file, per_shard[static_cast<size_t>(s)], dtype);
    for (const NamedTensor& t : per_shard[static_cast<size_t>(s)]) weight_map[t.name] = file;
  }
  if (shards > 1) {
    const nlohmann::json index = {{"metadata", nlohmann::json::object()},
                                  {"weight_map", weight_map}};
    std::ofstream(dir / "model.safetensors.index.json") << index.dump(2) << "\n";
  }
}

}  // namespace flowkv::runtime
