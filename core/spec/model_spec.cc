#include "core/spec/model_spec.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/base/error.h"
#include "core/base/repository.h"


namespace flowkv::core {
namespace {

using nlohmann::json;

std::filesystem::path models_dir() {
  return repository_dir() / "scenarios" / "models";
}

// 1-based line of a byte offset, for parse errors.
int64_t line_of(const std::string& text, size_t byte) {
  byte = std::min(byte, text.size());
  return 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(byte), '\n');
}

class Reader {
 public:
  Reader(const json& root, const std::string& source) : root_(root), source_(source) {}

  [[noreturn]] void fail(const std::string& key, const std::string& expected) const {
    std::string got = "it is missing";
    if (root_.contains(key)) got = "got " + root_.at(key).dump();
    throw_input_error(source_ + ": key \"" + key + "\": expected " + expected + ", " + got);
  }

  bool has(const std::string& key) const { return root_.contains(key) && !root_.at(key).is_null(); }

  int64_t positive_int(const std::string& key, int64_t max) const {
    if (!has(key)) fail(key, "a positive integer");
    const json& v = root_.at(key);
    if (!v.is_number_integer() || v.get<int64_t>() <= 0 || v.get<int64_t>() > max) {
      fail(key, "a positive integer up to " + std::to_string(max));
    }
    return v.get<int64_t>();
  }
  int32_t positive_int32(const std::string& key) const {
    return static_cast<int32_t>(positive_int(key, std::numeric_limits<int32_t>::max()));
  }

  bool boolean(const std::string& key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!root_.at(key).is_boolean()) fail(key, "true or false");
    return root_.at(key).get<bool>();
  }

  double positive_number(const std::string& key, double fallback) const {
    if (!has(key)) return fallback;
    const json& v = root_.at(key);
    if (!v.is_number() || !(v.get<double>() > 0)) fail(key, "a positive number");
    return v.get<double>();
  }

  std::string string(const std::string& key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    if (!root_.at(key).is_string()) fail(key, "a string");
    return root_.at(key).get<std::string>();
  }

 private:
  const json& root_;
  const std::string& source_;
};

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

}  // namespace

int64_t ModelSpec::num_params() const {
  const int64_t h = hidden_size;
  const int64_t q_dim = int64_t{num_heads} * head_dim;
  const int64_t kv_dim = int64_t{num_kv_heads} * head_dim;
  const int64_t embedding = int64_t{vocab_size} * h;
  int64_t attention = h * q_dim + 2 * h * kv_dim + q_dim * h;  // q, k, v, o
  if (attention_bias) attention += q_dim + 2 * kv_dim;
  const int64_t mlp = 3 * h * int64_t{intermediate_size};  // gate, up, down
  const int64_t norms = 2 * h;                             // before attention and MLP
  const int64_t per_layer = attention + mlp + norms;
  const int64_t lm_head = tie_word_embeddings ? 0 : embedding;
  return embedding + int64_t{num_layers} * per_layer + h /* final norm */ + lm_head;
}

KvGeometry ModelSpec::kv_geometry(int32_t block_size, int64_t num_blocks) const {
  KvGeometry g;
  g.num_layers = num_layers;
  g.num_kv_heads = num_kv_heads;
  g.head_dim = head_dim;
  g.block_size = block_size;
  g.dtype_bytes = dtype_bytes;
  g.num_blocks = num_blocks;
  return g;
}

ModelSpec parse_model_config(const std::string& json_text, const std::string& source) {
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
  m.num_layers = r.positive_int32("num_hidden_layers");
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
  } else {
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
  m.tie_word_embeddings = r.boolean("tie_word_embeddings", false);
  // Qwen2 has q/k/v biases without saying so in its config.
  m.attention_bias = r.boolean("attention_bias", r.string("model_type", "") == "qwen2");
  m.model_type = r.string("model_type", "");
  m.rms_norm_eps = r.positive_number("rms_norm_eps", m.rms_norm_eps);
  m.rope_theta = r.positive_number("rope_theta", m.rope_theta);
  if (r.has("rope_scaling")) {
    const json& rs = root.at("rope_scaling");
    if (!rs.is_object()) r.fail("rope_scaling", "an object or null");
    const std::string scaling_source = source + ": rope_scaling";
    const Reader sr(rs, scaling_source);
    const std::string type = sr.string("rope_type", sr.string("type", ""));
    if (type == "llama3") {
      m.rope_scaling.llama3 = true;
      m.rope_scaling.factor = sr.positive_number("factor", 8.0);
      m.rope_scaling.low_freq_factor = sr.positive_number("low_freq_factor", 1.0);
      m.rope_scaling.high_freq_factor = sr.positive_number("high_freq_factor", 4.0);
      m.rope_scaling.original_max_position_embeddings =
          sr.has("original_max_position_embeddings") ? sr.positive_int("original_max_position_embeddings", int64_t{1} << 40)
                                                     : 8192;
      if (m.rope_scaling.high_freq_factor <= m.rope_scaling.low_freq_factor) {
        sr.fail("high_freq_factor", "a value above low_freq_factor");
      }
    } else if (type != "default") {
      // Other scalings (linear, dynamic, yarn) change the positions' frequencies; the live
      // executors do not implement them, the simulator does not need them.
      m.rope_scaling_unsupported = type.empty() ? "rope_scaling without a rope_type" : "rope_type \"" + type + "\"";
    }
  }
  return m;
}

ModelSpec load_model_config(const std::filesystem::path& path) {
  ModelSpec m = parse_model_config(read_file(path), path.string());
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

ModelSpec find_model(const std::string& name_or_path) {
  const std::vector<std::string> names = model_names();
  const std::string wanted = lower(name_or_path);
  for (const auto& name : names) {
    if (lower(name) == wanted) {
      ModelSpec m = load_model_config(models_dir() / (name + ".json"));
      m.name = name;
      return m;
    }
  }
  std::error_code ec;
  if (std::filesystem::is_regular_file(name_or_path, ec)) return load_model_config(name_or_path);
  throw_input_error("unknown model '" + name_or_path + "': expected one of " + join(names) +
                    " (from " + models_dir().string() + "), or a path to a config.json");
}

}  // namespace flowkv::core
