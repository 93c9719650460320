#include "runtime/model/model_weights.h"

#include <set>
#include <string>

#include "core/base/error.h"
#include "runtime/model/llama_tensors.h"
#include "runtime/model/random_weights.h"
#include "runtime/model/safetensors.h"

namespace flowkv::runtime {

void check_executable(const core::ModelSpec& spec) {
  const std::string where = "model " + spec.name + ": ";
  if (!spec.rope_scaling_unsupported.empty()) {
    core::throw_input_error(where + spec.rope_scaling_unsupported +
                            " is not implemented by the executors (only rope_type \"llama3\" "
                            "or none)");
  }
  static const std::set<std::string> kFamilies = {"", "llama", "mistral", "qwen2"};
  if (!kFamilies.count(spec.model_type)) {
    core::throw_input_error(where + "model_type \"" + spec.model_type +
                            "\" is not a Llama-architecture model the executors run (llama, "
                            "mistral, qwen2)");
  }
  if (spec.dtype_bytes != 2 && spec.dtype_bytes != 4) {
    core::throw_input_error(where + "a KV dtype of " + std::to_string(spec.dtype_bytes) +
                            " bytes: the executors keep KV in bf16/fp16 (2) or fp32 (4)");
  }
  if (spec.head_dim % 2 != 0) {
    core::throw_input_error(where + "head_dim " + std::to_string(spec.head_dim) +
                            " is odd: RoPE rotates pairs (i, i + head_dim / 2)");
  }
  if (spec.num_layers < 1 || spec.hidden_size < 1 || spec.num_heads < 1 ||
      spec.num_kv_heads < 1 || spec.num_heads % spec.num_kv_heads != 0 ||
      spec.intermediate_size < 1 || spec.vocab_size < 1) {
    core::throw_input_error(where + "the shape is not a transformer the executors run "
                            "(positive sizes, num_attention_heads a multiple of "
                            "num_key_value_heads)");
  }
}

ModelWeights random_weights(const core::ModelSpec& spec, uint64_t seed) {
  check_executable(spec);
  ModelWeights w = empty_weights(spec);
  w.seed = seed;
  w.random = true;
  const int64_t q_dim = int64_t{spec.num_heads} * spec.head_dim;
  const auto fill = [&](std::vector<float>& v, WeightTensor t, int32_t layer) {
    const WeightInit init = weight_init(t, spec.hidden_size, q_dim, spec.intermediate_size);
    const uint32_t id = tensor_id(t, layer);
    for (size_t i = 0; i < v.size(); ++i) v[i] = random_weight(seed, id, i, init.scale, init.offset);
  };
  fill(w.embed, WeightTensor::kEmbed, 0);
  for (int32_t l = 0; l < spec.num_layers; ++l) {
    LayerWeights& layer = w.layers[static_cast<size_t>(l)];
    fill(layer.attn_norm, WeightTensor::kAttnNorm, l);
    fill(layer.qkv, WeightTensor::kQkv, l);
    fill(layer.qkv_bias, WeightTensor::kQkvBias, l);  // empty without attention_bias
    fill(layer.o, WeightTensor::kO, l);
    fill(layer.mlp_norm, WeightTensor::kMlpNorm, l);
    fill(layer.gate_up, WeightTensor::kGateUp, l);
    fill(layer.down, WeightTensor::kDown, l);
  }
  fill(w.final_norm, WeightTensor::kFinalNorm, 0);
  if (spec.tie_word_embeddings) {
    w.lm_head = w.embed;
  } else {
    fill(w.lm_head, WeightTensor::kLmHead, 0);
  }
  return w;
}

ModelWeights load_safetensors(const core::ModelSpec& spec, const std::filesystem::path& dir) {
  check_executable(spec);
  const SafetensorsCheckpoint checkpoint(dir);
  ModelWeights w = empty_weights(spec);
  w.seed = 0;
  w.random = false;
  for (const LlamaTensor& t : llama_tensors(spec)) {
    checkpoint.read(t.name, t.shape, tensor_span(w, t));
  }
  if (spec.tie_word_embeddings) w.lm_head = w.embed;
  return w;
}

}  // namespace flowkv::runtime
