// ModelSpec: the shape of a transformer, read from a Hugging Face config.json.
//
// Shipped configs live in scenarios/models/<name>.json and are found by name
// ("llama-3.1-8b"); any other path to a config.json works too. Reading validates every field
// it uses and names the file and the JSON key on error (exit 2).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/kv/kv_layout.h"

namespace flowkv::core {

struct ModelSpec {
  std::string name;             // catalogue name, or the config's file stem
  int32_t num_layers = 0;       // num_hidden_layers
  int32_t hidden_size = 0;
  int32_t num_heads = 0;        // num_attention_heads
  int32_t num_kv_heads = 0;     // num_key_value_heads (= num_heads when absent)
  int32_t head_dim = 0;         // head_dim, or hidden_size / num_heads
  int32_t intermediate_size = 0;
  int32_t vocab_size = 0;
  int32_t dtype_bytes = 2;      // torch_dtype: bfloat16/float16 = 2, float32 = 4
  int64_t max_context = 0;      // max_position_embeddings
  bool tie_word_embeddings = false;  // the LM head reuses the embedding matrix
  bool attention_bias = false;  // q/k/v projections carry a bias (Qwen2: always)
  // What the live executors need beyond the shape (the simulator does not read these).
  std::string model_type;       // "llama", "mistral", "qwen2", ...
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  // rope_scaling {"rope_type": "llama3", ...} (Llama 3.1+): frequencies below the original
  // context are scaled down by `factor`, blended between low_freq_factor and high_freq_factor.
  struct RopeScaling {
    bool llama3 = false;
    double factor = 1.0;
    double low_freq_factor = 1.0;
    double high_freq_factor = 4.0;
    int64_t original_max_position_embeddings = 8192;
  } rope_scaling;
  // A rope_scaling the executors do not implement ("" when none): `flowkv live` refuses it.
  std::string rope_scaling_unsupported;

  // Parameters in the weights (embedding, attention, MLP, norms, LM head).
  int64_t num_params() const;
  int64_t weight_bytes() const { return num_params() * dtype_bytes; }
  // KV bytes of one token, all layers, K and V.
  int64_t kv_bytes_per_token() const {
    return int64_t{2} * num_layers * num_kv_heads * head_dim * dtype_bytes;
  }
  // The pool geometry for this model with the given block size and block count.
  KvGeometry kv_geometry(int32_t block_size, int64_t num_blocks) const;
};

// Parses a Hugging Face config.json; `source` names the file in error messages.
ModelSpec parse_model_config(const std::string& json_text, const std::string& source);
ModelSpec load_model_config(const std::filesystem::path& path);
// A catalogue name (see model_names()) or a path to a config.json.
ModelSpec find_model(const std::string& name_or_path);
std::vector<std::string> model_names();

}  // namespace flowkv::core
