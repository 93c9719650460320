#include "core/spec/model_spec.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/base/error.h"
#include "core/base/repository.h"
#include "core/spec/model_config_keys.h"


namespace flowkv::core {
namespace {

using nlohmann::json;
using Reader = detail::ConfigReader;

std::filesystem::path models_dir() {
  return repository_dir() / "scenarios" / "models";
}

// 1-based line of a byte offset, for parse errors.
int64_t line_of(const std::string& text, size_t byte) {
  byte = std::min(byte, text.size());
  return 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(byte), '\n');
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_input_error(path.string() + ": cannot open the model config");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// Architectures whose layers FlowKV knows: the Llama layer (attention, gated MLP, two RMSNorms)
// and the differences of each family, read below. Absent model_type reads as Llama.
const char* const kModelTypes[] = {"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3",
                                   "qwen3_moe", "deepseek_v2", "deepseek_v3", "kimi_k2", "gpt_oss",
                                   "gemma2", "gemma3_text"};

void read_rope_scaling(const json& root, const Reader& r, const std::string& source, ModelSpec& m) {
  if (!r.has("rope_scaling")) return;
  const json& rs = root.at("rope_scaling");
  if (!rs.is_object()) r.fail("rope_scaling", "an object or null");
  const Reader sr(rs, source, "rope_scaling.");
  const std::string type = sr.string("rope_type", sr.string("type", ""));
  if (type == "llama3") {
    m.rope_scaling.llama3 = true;
    m.rope_scaling.factor = sr.positive_number("factor", 8.0);
    m.rope_scaling.low_freq_factor = sr.positive_number("low_freq_factor", 1.0);
    m.rope_scaling.high_freq_factor = sr.positive_number("high_freq_factor", 4.0);
    m.rope_scaling.original_max_position_embeddings =
        sr.has("original_max_position_embeddings")
            ? sr.positive_int("original_max_position_embeddings", int64_t{1} << 40)
            : 8192;
    if (m.rope_scaling.high_freq_factor <= m.rope_scaling.low_freq_factor) {
      sr.fail("high_freq_factor", "a value above low_freq_factor");
    }
  } else if (type != "default") {
    // Other scalings (linear, dynamic, yarn) change the positions' frequencies; the live
    // executors do not implement them, the simulator does not need them.
    m.rope_scaling_unsupported =
        type.empty() ? "rope_scaling without a rope_type" : "rope_type \"" + type + "\"";
  }
}

// Mixture of experts, whichever family's keys name it.
void read_moe(const Reader& r, const json& root, ModelSpec& m) {
  std::string experts_key;
  for (const char* k : {"n_routed_experts", "num_experts", "num_local_experts"}) {
    if (r.has(k) && experts_key.empty()) experts_key = k;
  }
  const int32_t experts = experts_key.empty() ? 0 : r.non_negative_int32(experts_key, 0);
  if (experts == 0) return;
  m.moe.num_experts = experts;
  const std::string k_key = r.has("num_experts_per_tok") ? "num_experts_per_tok" : "experts_per_token";
  m.moe.experts_per_token = r.positive_int32(k_key);
  if (m.moe.experts_per_token > experts) r.fail(k_key, "at most " + experts_key + " (" + std::to_string(experts) + ")");
  m.moe.expert_intermediate =
      r.has("moe_intermediate_size") ? r.positive_int32("moe_intermediate_size") : m.intermediate_size;
  if (r.has("n_shared_experts")) {
    m.moe.shared_intermediate = r.non_negative_int32("n_shared_experts", 0) * m.moe.expert_intermediate;
  } else if (r.has("shared_expert_intermediate_size")) {
    m.moe.shared_intermediate = r.non_negative_int32("shared_expert_intermediate_size", 0);
    m.moe.shared_expert_gate = m.moe.shared_intermediate > 0;  // Qwen2-MoE's shared_expert_gate
  }
  m.moe.expert_bias = m.model_type == "gpt_oss";
  m.moe.router_bias = m.model_type == "gpt_oss" || m.model_type == "deepseek_v3" || m.model_type == "kimi_k2";
  // Which layers are MoE: DeepSeek's first_k_dense_replace / moe_layer_freq, Qwen's
  // decoder_sparse_step / mlp_only_layers (defaults: every layer).
  const int32_t first_dense = r.non_negative_int32("first_k_dense_replace", 0);
  if (r.has("moe_layer_freq") && !root.at("moe_layer_freq").is_number_integer()) {
    r.fail("moe_layer_freq", "an integer (every n-th layer is MoE)");
  }
  const int32_t freq = r.has("moe_layer_freq") ? r.positive_int32("moe_layer_freq") : 1;
  const int32_t step = r.has("decoder_sparse_step") ? r.positive_int32("decoder_sparse_step") : 1;
  std::vector<int64_t> dense_only;
  if (r.has("mlp_only_layers")) {
    const json& v = root.at("mlp_only_layers");
    if (!v.is_array()) r.fail("mlp_only_layers", "an array of layer indices");
    for (const json& e : v) {
      if (!e.is_number_integer()) r.fail("mlp_only_layers", "an array of layer indices");
      dense_only.push_back(e.get<int64_t>());
    }
  }
  for (int32_t i = 0; i < m.num_layers; ++i) {
    const bool moe = i >= first_dense && i % freq == 0 && (i + 1) % step == 0 &&
                     std::find(dense_only.begin(), dense_only.end(), i) == dense_only.end();
    if (moe) ++m.moe.num_moe_layers;
  }
}

void read_mla(const Reader& r, ModelSpec& m) {
  if (!r.has("kv_lora_rank")) return;
  m.mla.kv_lora_rank = r.positive_int32("kv_lora_rank");
  m.mla.q_lora_rank = r.non_negative_int32("q_lora_rank", 0);  // null in DeepSeek-V2-Lite
  m.mla.qk_nope_head_dim = r.positive_int32("qk_nope_head_dim");
  m.mla.qk_rope_head_dim = r.positive_int32("qk_rope_head_dim");
  m.mla.v_head_dim = r.positive_int32("v_head_dim");
  m.head_dim = m.mla.qk_nope_head_dim + m.mla.qk_rope_head_dim;
  if (m.attention_bias) r.fail("attention_bias", "false with multi-head latent attention (kv_lora_rank)");
}

// Which layers attend through a sliding window, and how wide it is.
void read_windows(const Reader& r, const json& root, const std::string& source,
                  const ModelReadOptions& options, ModelSpec& m) {
  std::vector<bool> sliding(static_cast<size_t>(m.num_layers), false);
  if (r.has("layer_types")) {
    const json& v = root.at("layer_types");
    if (!v.is_array() || v.size() != static_cast<size_t>(m.num_layers)) {
      r.fail("layer_types", "an array of num_hidden_layers (" + std::to_string(m.num_layers) + ") layer types");
    }
    for (size_t i = 0; i < v.size(); ++i) {
      const std::string t = v[i].is_string() ? v[i].get<std::string>() : "";
      if (t == "sliding_attention") {
        sliding[i] = true;
      } else if (t != "full_attention") {
        detail::unmodelled("layer_types", "layer " + std::to_string(i) + " is " + v[i].dump() +
                                               " (FlowKV models \"full_attention\" and \"sliding_attention\" layers)",
                           source, options, m);
      }
    }
  } else if (m.model_type == "gemma3_text") {
    const int32_t pattern = r.has("sliding_window_pattern") ? r.positive_int32("sliding_window_pattern") : 6;
    for (int32_t i = 0; i < m.num_layers; ++i) sliding[static_cast<size_t>(i)] = (i + 1) % pattern != 0;
  } else if (m.model_type == "gemma2") {
    for (int32_t i = 0; i < m.num_layers; i += 2) sliding[static_cast<size_t>(i)] = true;
  } else if (m.model_type.rfind("qwen", 0) == 0) {
    // Qwen2/3: with use_sliding_window, the layers from max_window_layers on are windowed.
    if (r.boolean("use_sliding_window", false)) {
      const int32_t first = r.non_negative_int32("max_window_layers", m.num_layers);
      for (int32_t i = first; i < m.num_layers; ++i) sliding[static_cast<size_t>(i)] = true;
    }
  } else if (r.has("sliding_window")) {
    sliding.assign(sliding.size(), true);  // Mistral, Mixtral: every layer
  }
  const int32_t count = static_cast<int32_t>(std::count(sliding.begin(), sliding.end(), true));
  if (count == 0) return;
  const int64_t window = r.positive_int("sliding_window", int64_t{1} << 40);
  if (window >= m.max_context) return;  // a window no context can exceed changes nothing
  m.window.tokens = static_cast<int32_t>(window);
  m.window.num_layers = count;
}

// One entry of modules_to_not_convert: the group it keeps unquantized.
void keep_unquantized(const std::string& entry, const std::string& key, const std::string& source,
                      const ModelReadOptions& options, ModelSpec& m) {
  const auto has = [&](const char* part) { return entry.find(part) != std::string::npos; };
  const auto ends = [&](const char* suffix) {
    const std::string s(suffix);
    return entry.size() >= s.size() && entry.compare(entry.size() - s.size(), s.size(), s) == 0;
  };
  // A layer named by index ("model.layers.3.mlp") keeps one layer apart, which FlowKV's
  // per-group counts cannot say.
  const size_t layers = entry.find("layers.");
  if (layers != std::string::npos && layers + 7 < entry.size() &&
      std::isdigit(static_cast<unsigned char>(entry[layers + 7]))) {
    detail::unmodelled(key, "\"" + entry + "\" keeps one layer unquantized (FlowKV quantizes a group in every layer or in none)",
                       source, options, m);
    return;
  }
  if (has("lm_head") || has("embed") || has("norm") || ends("router") || ends("mlp.gate") || ends(".gate")) {
    return;  // never quantized here anyway
  }
  if (has("shared_expert")) {
    m.quant.shared_experts = false;
  } else if (has("experts")) {
    m.quant.routed_experts = false;
  } else if (has("attn") || has("attention")) {
    m.quant.attention = false;
  } else if (ends("mlp") || ends("mlp.*") || ends("feed_forward")) {
    m.quant.dense_mlp = m.quant.routed_experts = m.quant.shared_experts = false;
  } else {
    detail::unmodelled(key, "\"" + entry + "\" names modules FlowKV cannot place (expected names like lm_head, "
                            "model.embed_tokens, model.layers.*.self_attn, model.layers.*.mlp.router, "
                            "model.layers.*.mlp.experts)",
                       source, options, m);
  }
}

void read_quantization(const Reader& r, const json& root, const std::string& source,
                       const ModelReadOptions& options, ModelSpec& m) {
  if (!r.has("quantization_config")) return;
  const json& q = root.at("quantization_config");
  if (!q.is_object()) r.fail("quantization_config", "an object");
  detail::check_quantization_keys(q, source, options, m);
  const Reader qr(q, source, "quantization_config.");
  const std::string method = qr.string("quant_method", "");
  if (method == "fp8") {
    m.quant.format = WeightFormat::kFp8;
    const std::string fmt = qr.string("fmt", "e4m3");
    if (fmt != "e4m3" && fmt != "e5m2" && fmt != "float8_e4m3fn") qr.fail("fmt", "\"e4m3\" or \"e5m2\"");
    const std::string scheme = qr.string("activation_scheme", "");
    if (!scheme.empty() && scheme != "dynamic" && scheme != "static") {
      qr.fail("activation_scheme", "\"dynamic\" or \"static\"");
    }
    m.quant.activations = !scheme.empty();
    if (qr.has("weight_block_size")) {
      const json& b = q.at("weight_block_size");
      if (!b.is_array() || b.size() != 2 || !b[0].is_number_integer() || !b[1].is_number_integer() ||
          b[0].get<int64_t>() <= 0 || b[1].get<int64_t>() <= 0 || b[0].get<int64_t>() > 65536 ||
          b[1].get<int64_t>() > 65536) {
        qr.fail("weight_block_size", "[rows, columns] of one scale's block, e.g. [128, 128]");
      }
      m.quant.block_elements = static_cast<int32_t>(b[0].get<int64_t>() * b[1].get<int64_t>());
    }
    m.quant.attention = m.quant.dense_mlp = m.quant.routed_experts = m.quant.shared_experts = true;
  } else if (method == "mxfp4") {
    m.quant.format = WeightFormat::kMxfp4;
    m.quant.routed_experts = true;  // gpt-oss: the experts only
  } else {
    detail::unmodelled("quantization_config.quant_method",
                       "quant_method " + (method.empty() ? std::string("missing") : "\"" + method + "\"") +
                           " (FlowKV models \"fp8\" and \"mxfp4\" weights)",
                       source, options, m);
    return;
  }
  m.quant.method = method;
  for (const char* list : {"modules_to_not_convert", "ignored_layers"}) {
    if (!qr.has(list)) continue;
    const json& v = q.at(list);
    if (!v.is_array()) qr.fail(list, "an array of module names");
    for (const json& e : v) {
      if (!e.is_string()) qr.fail(list, "an array of module names");
      keep_unquantized(e.get<std::string>(), std::string("quantization_config.") + list, source, options, m);
    }
  }
}

// The parameter count in doubles, before the exact int64 one: a config whose products overflow
// int64 is refused instead of being counted wrong (the fuzzer writes such configs).
void check_size(const ModelSpec& m, const std::string& source) {
  const auto d = [](int64_t v) { return static_cast<double>(v); };
  const double h = d(m.hidden_size), layers = d(m.num_layers), heads = d(m.num_heads);
  double attention = h * (heads + 2.0 * d(m.num_kv_heads)) * d(m.head_dim) * 2;
  if (m.is_mla()) {
    const double qk = d(m.mla.qk_nope_head_dim) + d(m.mla.qk_rope_head_dim);
    attention = h * d(m.mla.q_lora_rank) + d(m.mla.q_lora_rank) * heads * qk + h * heads * qk +
                h * (d(m.mla.kv_lora_rank) + d(m.mla.qk_rope_head_dim)) +
                d(m.mla.kv_lora_rank) * heads * (d(m.mla.qk_nope_head_dim) + d(m.mla.v_head_dim)) +
                heads * d(m.mla.v_head_dim) * h;
  }
  const double experts = d(m.moe.num_experts) * (3.0 * h * d(m.moe.expert_intermediate) + 3 * h) +
                         3.0 * h * d(m.moe.shared_intermediate) + 2.0 * h * d(m.moe.num_experts);
  const double total = 2.0 * d(m.vocab_size) * h +
                       layers * (attention + 3.0 * h * d(m.intermediate_size) + 8 * h + experts);
  if (!(total < 1e15)) {
    throw_input_error(source + ": the config describes about " + std::to_string(total) +
                      " parameters; FlowKV reads models of up to 10^15");
  }
}

// What each family adds to the Llama layer.
void read_family(const Reader& r, ModelSpec& m) {
  const std::string& t = m.model_type;
  m.o_proj_bias = m.attention_bias && t != "qwen2" && t != "qwen2_moe";
  m.mlp_bias = r.boolean("mlp_bias", false);
  m.qk_norm = t == "qwen3" || t == "qwen3_moe" || t == "gemma3_text";
  m.attention_sinks = t == "gpt_oss";
  m.norms_per_layer = (t == "gemma2" || t == "gemma3_text") ? 4 : 2;
  const std::string act_key = r.has("hidden_activation") ? "hidden_activation" : "hidden_act";
  m.hidden_act = r.string(act_key, "silu");
  const char* const gated[] = {"silu", "swish", "gelu", "gelu_new", "gelu_pytorch_tanh"};
  if (std::find(std::begin(gated), std::end(gated), m.hidden_act) == std::end(gated)) {
    r.fail(act_key, "a gated-MLP activation: silu, gelu or gelu_pytorch_tanh");
  }
}

}  // namespace

int32_t parse_kv_dtype(const std::string& name, const std::string& what) {
  const std::string n = lower(name);
  if (n == "auto") return 0;
  if (n == "bf16" || n == "bfloat16" || n == "fp16" || n == "float16" || n == "half") return 2;
  if (n == "fp8" || n == "fp8_e4m3" || n == "fp8_e5m2" || n == "float8_e4m3fn") return 1;
  if (n == "fp32" || n == "float32") return 4;
  throw_input_error(what + " '" + name + "': expected one of auto (the model's dtype), bf16, fp16, fp8, fp32");
}

ModelSpec parse_model_config(const std::string& json_text, const std::string& source,
                             const ModelReadOptions& options) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::parse_error& e) {
    throw_input_error(source + ":" + std::to_string(line_of(json_text, e.byte)) +
                      ": not valid JSON (" + e.what() + ")");
  } catch (const json::out_of_range& e) {  // a number too large for a double, e.g. 1e999
    throw_input_error(source + ": not valid JSON (" + e.what() + ")");
  }
  if (!root.is_object()) throw_input_error(source + ": expected a JSON object (a config.json)");
  const Reader r(root, source);

  ModelSpec m;
  m.name = source;
  detail::check_config_keys(root, source, options, m);
  m.model_type = r.string("model_type", "");
  if (!m.model_type.empty() &&
      std::find(std::begin(kModelTypes), std::end(kModelTypes), m.model_type) == std::end(kModelTypes)) {
    detail::unmodelled("model_type", "\"" + m.model_type + "\" is an architecture FlowKV does not know (its norms, "
                                     "biases and projections may differ from the Llama layer)",
                       source, options, m);
  }
  // Layers are walked one by one (which are MoE, which slide): a bound keeps that cheap.
  m.num_layers = static_cast<int32_t>(r.positive_int("num_hidden_layers", 100000));
  m.hidden_size = r.positive_int32("hidden_size");
  m.num_heads = r.positive_int32("num_attention_heads");
  m.num_kv_heads =
      r.has("num_key_value_heads") ? r.positive_int32("num_key_value_heads") : m.num_heads;
  if (m.num_heads % m.num_kv_heads != 0) {
    r.fail("num_key_value_heads",
           "a divisor of num_attention_heads (" + std::to_string(m.num_heads) + ")");
  }
  if (r.has("head_dim")) {
    m.head_dim = r.positive_int32("head_dim");
  } else if (!r.has("kv_lora_rank")) {
    if (m.hidden_size % m.num_heads != 0) {
      r.fail("head_dim", "a value, since hidden_size is not a multiple of num_attention_heads");
    }
    m.head_dim = m.hidden_size / m.num_heads;
  }
  m.intermediate_size = r.positive_int32("intermediate_size");
  m.vocab_size = r.positive_int32("vocab_size");
  m.max_context = r.positive_int("max_position_embeddings", int64_t{1} << 40);
  // Newer transformers write "dtype", older ones "torch_dtype".
  const std::string dtype_key = r.has("dtype") ? "dtype" : "torch_dtype";
  const std::string dtype = r.string(dtype_key, "bfloat16");
  if (dtype == "bfloat16" || dtype == "float16") {
    m.dtype_bytes = 2;
  } else if (dtype == "float32") {
    m.dtype_bytes = 4;
  } else {
    r.fail(dtype_key, "one of \"bfloat16\", \"float16\", \"float32\"");
  }
  m.kv_dtype_bytes = m.dtype_bytes;
  m.tie_word_embeddings = r.boolean("tie_word_embeddings", false);
  // Qwen2 has q/k/v biases without saying so in its config.
  m.attention_bias = r.boolean("attention_bias", m.model_type == "qwen2" || m.model_type == "qwen2_moe");
  m.rms_norm_eps = r.positive_number("rms_norm_eps", m.rms_norm_eps);
  m.rope_theta = r.positive_number("rope_theta", m.rope_theta);
  read_rope_scaling(root, r, source, m);
  read_family(r, m);
  read_mla(r, m);
  read_moe(r, root, m);
  read_windows(r, root, source, options, m);
  read_quantization(r, root, source, options, m);
  check_size(m, source);
  return m;
}

ModelSpec load_model_config(const std::filesystem::path& path, const ModelReadOptions& options) {
  ModelSpec m = parse_model_config(read_file(path), path.string(), options);
  // A Hugging Face snapshot is <model>/config.json: the folder names the model.
  m.name = path.filename() == "config.json" && path.has_parent_path()
               ? std::filesystem::absolute(path).parent_path().filename().string()
               : path.stem().string();
  return m;
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(models_dir(), ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") {
      names.push_back(entry.path().stem().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

ModelSpec find_model(const std::string& name_or_path, const ModelReadOptions& options) {
  const std::vector<std::string> names = model_names();
  const std::string wanted = lower(name_or_path);
  for (const auto& name : names) {
    if (lower(name) == wanted) {
      ModelSpec m = load_model_config(models_dir() / (name + ".json"), options);
      m.name = name;
      return m;
    }
  }
  std::error_code ec;
  if (std::filesystem::is_regular_file(name_or_path, ec)) return load_model_config(name_or_path, options);
  throw_input_error("unknown model '" + name_or_path + "': expected one of " + join(names) +
                    " (from " + models_dir().string() + "), or a path to a config.json");
}

}  // namespace flowkv::core
