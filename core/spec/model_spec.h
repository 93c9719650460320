// ModelSpec: the shape of a transformer, read from a Hugging Face config.json.
//
// Shipped configs live in scenarios/models/<name>.json and are found by name
// ("llama-3.1-8b"); any other path to a config.json works too. Reading validates every field
// it uses and names the file and the JSON key on error (exit 2).
//
// Besides dense Llama-style models it describes the families served disaggregated today
// (docs/simulator.md, "Model families"): mixture of experts (Mixtral, Qwen3-MoE, DeepSeek,
// gpt-oss), multi-head latent attention (DeepSeek V2/V3, Kimi K2), FP8 and MXFP4 weights,
// sliding-window layers (Mistral, Gemma 2/3, gpt-oss). Every key of a config is either read,
// known not to change memory or compute, or refused: a key that would change them and is not
// modelled, or one FlowKV does not know, is an input error naming it, unless the caller accepts
// it by name (ModelReadOptions; `--accept-unmodelled` on the command line), in which case
// `unmodelled` lists it and the run carries a warning.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/kv/kv_layout.h"

namespace flowkv::core {

// How the weights are stored (quantization_config).
enum class WeightFormat : int32_t {
  kDtype = 0,  // torch_dtype's element size, no quantization
  kFp8 = 1,    // 1-byte e4m3 values (+ float32 scales per weight_block_size block)
  kMxfp4 = 2,  // 4-bit values + one 8-bit scale per 32 (OCP MX): 4.25 bits
};

// Parameter counts by where they sit; total() is num_params().
struct ParamCounts {
  int64_t embedding = 0;       // input embedding table
  int64_t lm_head = 0;         // 0 when tied to the embedding
  int64_t attention = 0;       // projection matrices of every layer (q, k, v, o; MLA's low-rank ones)
  int64_t attention_other = 0; // their biases, q/k norms, MLA's latent norms, attention sinks
  int64_t norms = 0;           // layer norms and the final norm
  int64_t dense_mlp = 0;       // MLPs of the dense layers (with biases)
  int64_t routed_experts = 0;  // all routed experts of all MoE layers (with biases)
  int64_t shared_experts = 0;  // always-on experts (DeepSeek, Qwen2-MoE), with their gate
  int64_t router = 0;          // routers (and their biases)
  int64_t total() const {
    return embedding + lm_head + attention + attention_other + norms + dense_mlp + routed_experts +
           shared_experts + router;
  }
};

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

  // ---- Beyond dense Llama. Every field's default is the dense model's, so a dense config gives
  // exactly the figures of the plain formulas.
  int32_t kv_dtype_bytes = 2;   // KV cache element: torch_dtype's, or the scenario's kv.dtype
  bool o_proj_bias = false;     // the output projection has a bias (attention_bias outside Qwen2)
  bool mlp_bias = false;        // mlp_bias: gate/up/down carry biases
  bool qk_norm = false;         // RMSNorm over each q and k head (Qwen3, Gemma 3)
  bool attention_sinks = false; // one learned sink logit per head and layer (gpt-oss)
  int32_t norms_per_layer = 2;  // 4 for Gemma 2/3 (pre and post norms around attention and MLP)
  std::string hidden_act = "silu";

  // Mixture of experts: the MLP of num_moe_layers layers is `num_experts` routed experts of
  // `expert_intermediate` (a token runs `experts_per_token` of them) plus the shared ones;
  // the other layers have the dense MLP of intermediate_size.
  struct Moe {
    int32_t num_experts = 0;          // n_routed_experts / num_experts / num_local_experts; 0: dense
    int32_t experts_per_token = 0;    // num_experts_per_tok
    int32_t expert_intermediate = 0; // moe_intermediate_size (Mixtral, gpt-oss: intermediate_size)
    int32_t shared_intermediate = 0; // all shared experts together: n_shared_experts x
                                      // moe_intermediate_size, or shared_expert_intermediate_size
    bool shared_expert_gate = false;  // Qwen2-MoE's sigmoid gate on the shared expert
    bool expert_bias = false;         // biases on the expert projections (gpt-oss)
    bool router_bias = false;         // a bias per expert in the router (gpt-oss, DeepSeek-V3)
    int32_t num_moe_layers = 0;
  } moe;

  // Multi-head latent attention (DeepSeek V2/V3): the cache keeps one latent of
  // kv_lora_rank + qk_rope_head_dim elements per token and layer, no K/V split.
  struct Mla {
    int32_t q_lora_rank = 0;          // 0: q projected from the hidden state directly
    int32_t kv_lora_rank = 0;         // 0: not MLA
    int32_t qk_nope_head_dim = 0;
    int32_t qk_rope_head_dim = 0;
    int32_t v_head_dim = 0;
  } mla;

  // Sliding-window layers: `num_layers` of the layers attend to (and keep KV for) their last
  // `tokens` tokens only. 0 layers: every layer attends to the whole context.
  struct Window {
    int32_t tokens = 0;
    int32_t num_layers = 0;
  } window;

  // Weight precision (quantization_config). The groups flagged hold `format`; the others (and
  // always the norms, biases and routers) hold dtype_bytes.
  struct Quantization {
    WeightFormat format = WeightFormat::kDtype;
    std::string method;               // "fp8", "mxfp4" ("" when none), for messages
    int32_t block_elements = 0;       // fp8: elements per float32 scale (128 x 128); 0: per tensor
    bool activations = false;         // fp8 with an activation_scheme: the matmuls run in FP8
    bool attention = false;
    bool dense_mlp = false;
    bool routed_experts = false;
    bool shared_experts = false;
  } quant;

  // Config keys accepted although not modelled ("key: why"), for the run's warnings.
  std::vector<std::string> unmodelled;

  // Parameters in the weights (embedding, attention, MLP or experts, norms, LM head).
  int64_t num_params() const { return params().total(); }
  ParamCounts params() const;
  // Parameters one token runs through: all but the embedding table (a lookup) and the routed
  // experts it does not choose. DeepSeek and OpenAI publish this figure ("37B", "5.1B"); Qwen
  // and Mistral publish it with the embedding table ("3.3B", "12.9B").
  int64_t active_params() const;
  // Of active_params(), those stored quantized (a W8A8 model runs them at FP8 rate).
  int64_t active_quantized_params() const;
  // Bytes of the weights as stored (quantization and its scales included).
  int64_t weight_bytes() const;
  // Bytes of all routed experts, and of one routed expert of one layer.
  int64_t routed_expert_bytes() const;
  int64_t expert_bytes() const;

  // KV bytes of one token, all layers (K and V, or MLA's latent), as long as the context fits
  // every window.
  int64_t kv_bytes_per_token() const {
    return kv_bytes_per_token_per_layer() * num_layers;
  }
  int64_t kv_bytes_per_token_per_layer() const {
    return is_mla() ? int64_t{mla.kv_lora_rank + mla.qk_rope_head_dim} * kv_dtype_bytes
                    : int64_t{2} * num_kv_heads * head_dim * kv_dtype_bytes;
  }
  // KV bytes a request of `tokens` tokens keeps: windowed layers keep their window only.
  int64_t kv_bytes_for_tokens(int64_t tokens) const;
  // The pool geometry for this model with the given block size and block count.
  KvGeometry kv_geometry(int32_t block_size, int64_t num_blocks) const;

  bool is_moe() const { return moe.num_experts > 0; }
  bool is_mla() const { return mla.kv_lora_rank > 0; }
  // The first feature a dense Llama-architecture executor (runtime/) does not implement, in
  // words naming the config key, or "" when the model is dense Llama-compatible: MoE, MLA,
  // sliding windows, quantized weights or KV, biases other than Qwen2's q/k/v ones, q/k norms,
  // sinks, extra norms, an activation other than SiLU, an unsupported rope scaling.
  std::string first_unsupported_feature() const;
  bool dense_llama_compatible() const { return first_unsupported_feature().empty(); }
};

// What a reader may accept although it is not modelled: config keys by name (a nested key as
// "quantization_config.kv_cache_scheme"), or every key.
struct ModelReadOptions {
  std::vector<std::string> accept_unmodelled;
  bool accept_all = false;
};

// Parses a Hugging Face config.json; `source` names the file in error messages.
ModelSpec parse_model_config(const std::string& json_text, const std::string& source,
                             const ModelReadOptions& options = {});
ModelSpec load_model_config(const std::filesystem::path& path, const ModelReadOptions& options = {});
// A catalogue name (see model_names()) or a path to a config.json.
ModelSpec find_model(const std::string& name_or_path, const ModelReadOptions& options = {});
std::vector<std::string> model_names();

// "bf16", "bfloat16", "fp16", "float16", "fp8", "fp8_e4m3", "fp8_e5m2", "float32" -> bytes; "auto"
// -> 0 (the model's dtype). Anything else is an input error naming `what`.
int32_t parse_kv_dtype(const std::string& name, const std::string& what);

}  // namespace flowkv::core
