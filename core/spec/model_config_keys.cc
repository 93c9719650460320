// Every config.json key FlowKV knows, by what it does to memory and compute: read (modelled),
// no effect (with why), or not modelled (refused with why). Anything else is refused as unknown:
// a config key nobody has looked at may change memory or compute, and a confident wrong answer
// is worse than an error. `--accept-unmodelled KEY` (ModelReadOptions) lets a run go on with a
// warning. docs/simulator.md ("Model families") lists the same table.
#include "core/spec/model_config_keys.h"

#include <algorithm>
#include <limits>
#include <map>
#include <string_view>

#include "core/base/error.h"

namespace flowkv::core::detail {
namespace {

using nlohmann::json;

enum class KeyKind { kRead, kNoEffect, kUnmodelled };

struct KeyInfo {
  KeyKind kind;
  const char* why;  // kNoEffect: why it changes neither memory nor compute; kUnmodelled: what it is
};

const std::map<std::string_view, KeyInfo>& key_table() {
  static const std::map<std::string_view, KeyInfo> table = [] {
    std::map<std::string_view, KeyInfo> t;
    auto add = [&t](std::initializer_list<const char*> keys, KeyKind kind, const char* why) {
      for (const char* k : keys) t.emplace(k, KeyInfo{kind, why});
    };
    add({"num_hidden_layers", "hidden_size", "num_attention_heads", "num_key_value_heads", "head_dim",
         "intermediate_size", "vocab_size", "max_position_embeddings", "torch_dtype", "dtype",
         "tie_word_embeddings", "attention_bias", "mlp_bias", "model_type", "rms_norm_eps", "rope_theta",
         "rope_scaling", "hidden_act", "hidden_activation",
         // mixture of experts
         "num_experts", "num_local_experts", "n_routed_experts", "num_experts_per_tok", "experts_per_token",
         "moe_intermediate_size", "n_shared_experts", "shared_expert_intermediate_size",
         "first_k_dense_replace", "moe_layer_freq", "decoder_sparse_step", "mlp_only_layers",
         // multi-head latent attention
         "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim",
         // windows
         "sliding_window", "use_sliding_window", "max_window_layers", "layer_types", "sliding_window_pattern",
         "quantization_config"},
        KeyKind::kRead, "");
    add({"architectures", "_name_or_path", "_source", "auto_map", "transformers_version"},
        KeyKind::kNoEffect, "names and provenance");
    add({"bos_token_id", "eos_token_id", "pad_token_id"}, KeyKind::kNoEffect, "token ids");
    add({"initializer_range", "attention_dropout", "hidden_dropout", "use_cache", "output_router_logits",
         "router_aux_loss_coef", "aux_loss_alpha", "seq_aux", "pretraining_tp", "ep_size", "router_jitter_noise"},
        KeyKind::kNoEffect, "training settings");
    add({"norm_topk_prob", "routed_scaling_factor", "scoring_func", "topk_method"}, KeyKind::kNoEffect,
        "how the router weighs the chosen experts (no memory, negligible compute)");
    add({"n_group", "topk_group"}, KeyKind::kNoEffect,
        "group-limited routing: a token still runs num_experts_per_tok experts (FlowKV takes the "
        "choices as uniform over all experts)");
    add({"rope_local_base_freq", "initial_context_length", "partial_rotary_factor", "rope_interleave", "use_mrope"},
        KeyKind::kNoEffect, "positions only");
    add({"query_pre_attn_scalar", "final_logit_softcapping", "attn_logit_softcapping", "swiglu_limit"},
        KeyKind::kNoEffect, "scalings and clamps (negligible compute)");
    add({"cache_implementation"}, KeyKind::kNoEffect, "a transformers setting");
    add({"num_nextn_predict_layers"}, KeyKind::kNoEffect,
        "multi-token-prediction layers, loaded only for speculative decoding, which FlowKV does not model");
    add({"text_config", "vision_config", "audio_config"}, KeyKind::kUnmodelled,
        "a multimodal model (FlowKV models a text model: give the text part as a config of its own)");
    add({"attention_chunk_size"}, KeyKind::kUnmodelled, "chunked local attention (Llama 4)");
    add({"linear_conv_kernel_dim", "linear_key_head_dim", "linear_num_key_heads", "linear_num_value_heads",
         "linear_value_head_dim", "full_attention_interval"},
        KeyKind::kUnmodelled, "linear-attention layers (Qwen3-Next)");
    add({"index_topk", "index_n_heads", "index_head_dim"}, KeyKind::kUnmodelled,
        "sparse attention with an indexer (DeepSeek V3.2)");
    return t;
  }();
  return table;
}

bool accepted(const std::string& key, const ModelReadOptions& options) {
  return options.accept_all || std::find(options.accept_unmodelled.begin(), options.accept_unmodelled.end(),
                                         key) != options.accept_unmodelled.end();
}

}  // namespace

void ConfigReader::fail(const std::string& key, const std::string& expected) const {
  std::string got = "it is missing";
  if (root_.contains(key)) got = "got " + root_.at(key).dump();
  throw_input_error(source_ + ": key \"" + path(key) + "\": expected " + expected + ", " + got);
}

int64_t ConfigReader::positive_int(const std::string& key, int64_t max) const {
  if (!has(key)) fail(key, "a positive integer");
  const json& v = root_.at(key);
  if (!v.is_number_integer() || v.get<int64_t>() <= 0 || v.get<int64_t>() > max) {
    fail(key, "a positive integer up to " + std::to_string(max));
  }
  return v.get<int64_t>();
}

int32_t ConfigReader::positive_int32(const std::string& key) const {
  return static_cast<int32_t>(positive_int(key, std::numeric_limits<int32_t>::max()));
}

int32_t ConfigReader::non_negative_int32(const std::string& key, int32_t fallback) const {
  if (!has(key)) return fallback;
  const json& v = root_.at(key);
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > std::numeric_limits<int32_t>::max()) {
    fail(key, "an integer >= 0");
  }
  return static_cast<int32_t>(v.get<int64_t>());
}

bool ConfigReader::boolean(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  if (!root_.at(key).is_boolean()) fail(key, "true or false");
  return root_.at(key).get<bool>();
}

double ConfigReader::positive_number(const std::string& key, double fallback) const {
  if (!has(key)) return fallback;
  const json& v = root_.at(key);
  if (!v.is_number() || !(v.get<double>() > 0)) fail(key, "a positive number");
  return v.get<double>();
}

std::string ConfigReader::string(const std::string& key, const std::string& fallback) const {
  if (!has(key)) return fallback;
  if (!root_.at(key).is_string()) fail(key, "a string");
  return root_.at(key).get<std::string>();
}

void unmodelled(const std::string& key, const std::string& why, const std::string& source,
                const ModelReadOptions& options, ModelSpec& m) {
  if (accepted(key, options)) {
    m.unmodelled.push_back(key + ": " + why);
    return;
  }
  throw_input_error(source + ": key \"" + key + "\": " + why +
                    "; FlowKV does not model it, so its memory and compute figures would be wrong "
                    "(to run anyway, accept it: --accept-unmodelled " + key +
                    ", or \"accept_unmodelled\": [\"" + key + "\"] in a scenario)");
}

void check_config_keys(const json& root, const std::string& source, const ModelReadOptions& options,
                       ModelSpec& m) {
  const auto& table = key_table();
  for (const auto& [key, value] : root.items()) {
    const auto it = table.find(key);
    if (it == table.end()) {
      unmodelled(key, "not a key FlowKV knows (it may change memory or compute)", source, options, m);
    } else if (it->second.kind == KeyKind::kUnmodelled && !value.is_null()) {
      unmodelled(key, std::string("is ") + it->second.why, source, options, m);
    }
  }
}

void check_quantization_keys(const json& q, const std::string& source, const ModelReadOptions& options,
                             ModelSpec& m) {
  static const char* const known[] = {"quant_method", "fmt", "activation_scheme", "weight_block_size",
                                      "modules_to_not_convert", "ignored_layers"};
  for (const auto& item : q.items()) {
    const std::string& key = item.key();
    if (std::find(std::begin(known), std::end(known), key) == std::end(known)) {
      unmodelled("quantization_config." + key, "not a quantization key FlowKV knows", source, options, m);
    }
  }
}

}  // namespace flowkv::core::detail
