// ModelSpec: the shipped configs, parameter counts against the published totals, and the
// error messages for bad configs.
#include "core/spec/model_spec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "core/base/error.h"
#include "tests/input_error.h"

namespace flowkv::core {
namespace {

using flowkv::testing::error_of;
using flowkv::testing::expect_contains;

TEST(ModelSpec, CatalogueHasTheShippedModels) {
  const auto names = model_names();
  for (const char* name : {"llama-3.1-8b", "llama-3.1-70b", "qwen2.5-7b", "mistral-7b",
                           "tiny-llama", "small-llama"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
}

// FlowKV's own models for the CPU executor: the shapes its tests and benchmarks assume.
TEST(ModelSpec, TinyAndSmallLlama) {
  const ModelSpec tiny = find_model("tiny-llama");
  EXPECT_EQ(tiny.num_layers, 2);
  EXPECT_EQ(tiny.hidden_size, 128);
  EXPECT_EQ(tiny.num_heads, 4);
  EXPECT_EQ(tiny.num_kv_heads, 2);
  EXPECT_EQ(tiny.head_dim, 32);
  EXPECT_EQ(tiny.intermediate_size, 384);
  EXPECT_EQ(tiny.vocab_size, 512);
  EXPECT_EQ(tiny.max_context, 16384);
  EXPECT_EQ(tiny.model_type, "llama");
  EXPECT_DOUBLE_EQ(tiny.rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(tiny.rope_theta, 10000.0);
  const ModelSpec small = find_model("small-llama");
  EXPECT_EQ(small.num_layers, 4);
  EXPECT_EQ(small.hidden_size, 256);
  EXPECT_EQ(small.num_heads, 8);
  EXPECT_EQ(small.num_kv_heads, 2);
  EXPECT_EQ(small.head_dim, 32);
  EXPECT_EQ(small.vocab_size, 2048);
  EXPECT_EQ(small.max_context, 32768);
}

TEST(ModelSpec, Llama31_8B) {
  const ModelSpec m = find_model("llama-3.1-8b");
  EXPECT_EQ(m.name, "llama-3.1-8b");
  EXPECT_EQ(m.num_layers, 32);
  EXPECT_EQ(m.hidden_size, 4096);
  EXPECT_EQ(m.num_heads, 32);
  EXPECT_EQ(m.num_kv_heads, 8);
  EXPECT_EQ(m.head_dim, 128);
  EXPECT_EQ(m.intermediate_size, 14336);
  EXPECT_EQ(m.vocab_size, 128256);
  EXPECT_EQ(m.dtype_bytes, 2);
  EXPECT_EQ(m.max_context, 131072);
  EXPECT_EQ(m.kv_bytes_per_token(), 131072);
  const KvGeometry g = m.kv_geometry(16, 100);
  EXPECT_EQ(g.token_bytes(), m.kv_bytes_per_token());
  EXPECT_EQ(g.num_blocks, 100);
  EXPECT_EQ(g.block_size, 16);
}

// Published parameter totals (the safetensors metadata of each Hugging Face repository).
TEST(ModelSpec, ParameterCountsMatchThePublishedTotals) {
  EXPECT_EQ(find_model("llama-3.1-8b").num_params(), 8'030'261'248);
  EXPECT_EQ(find_model("llama-3.1-70b").num_params(), 70'553'706'496);
  EXPECT_EQ(find_model("qwen2.5-7b").num_params(), 7'615'616'512);
  EXPECT_EQ(find_model("mistral-7b").num_params(), 7'241'732'096);
  EXPECT_EQ(find_model("llama-3.1-8b").weight_bytes(), 2 * 8'030'261'248);
}

TEST(ModelSpec, LookupIgnoresCaseAndAcceptsAPath) {
  EXPECT_EQ(find_model("Llama-3.1-70B").num_layers, 80);
  const auto dir = std::filesystem::temp_directory_path() / "flowkv_model_spec_test" / "my-model";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(std::string(FLOWKV_SOURCE_DIR) + "/scenarios/models/qwen2.5-7b.json",
                             dir / "config.json",
                             std::filesystem::copy_options::overwrite_existing);
  const ModelSpec m = find_model((dir / "config.json").string());
  EXPECT_EQ(m.name, "my-model");
  EXPECT_EQ(m.num_kv_heads, 4);
  EXPECT_TRUE(m.attention_bias);
  std::filesystem::remove_all(dir.parent_path());
}

TEST(ModelSpec, UnknownNameListsTheCatalogue) {
  const std::string msg = error_of([] { find_model("gpt-5"); });
  expect_contains(msg, "gpt-5");
  expect_contains(msg, "llama-3.1-8b");
  expect_contains(msg, "mistral-7b");
}

const char* kMinimal = R"({
  "num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4,
  "intermediate_size": 128, "vocab_size": 1000, "max_position_embeddings": 512
})";

TEST(ModelSpec, DefaultsForOptionalKeys) {
  const ModelSpec m = parse_model_config(kMinimal, "tiny.json");
  EXPECT_EQ(m.num_kv_heads, 4);  // = heads
  EXPECT_EQ(m.head_dim, 16);     // hidden / heads
  EXPECT_EQ(m.dtype_bytes, 2);
  EXPECT_FALSE(m.tie_word_embeddings);
  // embed + lm_head + 2 layers (4 * 64 * 64 attention + 3 * 64 * 128 MLP + 2 * 64 norms) + norm
  EXPECT_EQ(m.num_params(), 2 * 1000 * 64 + 2 * (4 * 64 * 64 + 3 * 64 * 128 + 2 * 64) + 64);
}

TEST(ModelSpec, TiedEmbeddingsHaveNoSeparateHead) {
  std::string tied = kMinimal;
  tied.insert(tied.rfind('}'), R"(, "tie_word_embeddings": true, "torch_dtype": "float32")");
  const ModelSpec a = parse_model_config(kMinimal, "a.json");
  const ModelSpec b = parse_model_config(tied, "b.json");
  EXPECT_EQ(a.num_params() - b.num_params(), 1000 * 64);
  EXPECT_EQ(b.dtype_bytes, 4);
}

TEST(ModelSpec, ErrorsNameTheFileAndTheKey) {
  expect_contains(error_of([] { parse_model_config(R"({"hidden_size": 64})", "cfg.json"); }),
                  "cfg.json: key \"num_hidden_layers\"");
  std::string bad = kMinimal;
  bad.replace(bad.find("\"hidden_size\": 64"), 17, "\"hidden_size\": \"64\"");
  const std::string msg = error_of([&] { parse_model_config(bad, "cfg.json"); });
  expect_contains(msg, "key \"hidden_size\"");
  expect_contains(msg, "positive integer");
  std::string dtype = kMinimal;
  dtype.insert(dtype.rfind('}'), R"(, "torch_dtype": "int4")");
  expect_contains(error_of([&] { parse_model_config(dtype, "cfg.json"); }), "\"torch_dtype\"");
  std::string gqa = kMinimal;
  gqa.insert(gqa.rfind('}'), R"(, "num_key_value_heads": 3)");
  expect_contains(error_of([&] { parse_model_config(gqa, "cfg.json"); }), "divisor");
  expect_contains(error_of([] { parse_model_config("{\n\"a\": 1,\n}", "broken.json"); }),
                  "broken.json:3: not valid JSON");
  expect_contains(error_of([] { parse_model_config("[1, 2]", "list.json"); }), "JSON object");
  expect_contains(error_of([] { load_model_config("/nonexistent/flowkv/config.json"); }),
                  "/nonexistent/flowkv/config.json");
}

}  // namespace
}  // namespace flowkv::core
