// The model families served disaggregated today (MoE, MLA, FP8/MXFP4 weights, sliding windows):
// each shipped config against its publisher's figures, and the reader's refusal of what it does
// not model. Regression for issue 15: DeepSeek-V3's config read as a 39B dense model with 25x its
// KV per token, Qwen3-30B-A3B's as a 3B model, and unknown keys ignored.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "core/base/error.h"
#include "tests/input_error.h"
#include "core/spec/model_spec.h"

namespace flowkv::core {
namespace {

using flowkv::testing::error_of;
using flowkv::testing::expect_contains;

constexpr double kB = 1e9;

// Within `rel` of the published figure (which is rounded: "671B", "5.1B").
void expect_near_published(double value, double published, double rel, const char* what) {
  EXPECT_NEAR(value / published, 1.0, rel) << what << ": " << value << " vs published " << published;
}

TEST(ModelFamilies, DeepSeekV3) {
  const ModelSpec m = find_model("deepseek-v3");
  EXPECT_TRUE(m.is_mla());
  EXPECT_TRUE(m.is_moe());
  EXPECT_EQ(m.moe.num_experts, 256);
  EXPECT_EQ(m.moe.experts_per_token, 8);
  EXPECT_EQ(m.moe.num_moe_layers, 58);  // first_k_dense_replace 3 of 61
  EXPECT_EQ(m.num_params(), 671'026'419'200);
  // DeepSeek's README_WEIGHTS: 671B total, 36.6B activated (the output head included, the
  // embedding lookup not); "37B" in the paper.
  expect_near_published(static_cast<double>(m.num_params()), 671 * kB, 0.002, "total");
  expect_near_published(static_cast<double>(m.active_params()), 36.6 * kB, 0.005, "active");
  // MLA: one latent of kv_lora_rank 512 + qk_rope_head_dim 64 per token and layer, bf16.
  EXPECT_EQ(m.kv_bytes_per_token(), 61 * 576 * 2);
  const KvGeometry g = m.kv_geometry(16, 10);
  EXPECT_EQ(g.kv_parts, 1);
  EXPECT_EQ(g.token_bytes(), m.kv_bytes_per_token());
  EXPECT_EQ(g.block_bytes(), 16 * 70'272);
  // FP8 e4m3 weights with a float32 scale per 128 x 128 block; embedding, LM head, norms and
  // routers in bf16: about 673 GB (the Hugging Face repository is 688 GB with the 14B MTP module).
  EXPECT_EQ(m.quant.format, WeightFormat::kFp8);
  EXPECT_TRUE(m.quant.activations);
  expect_near_published(static_cast<double>(m.weight_bytes()), 673.2 * kB, 0.003, "weight bytes");
  EXPECT_FALSE(m.dense_llama_compatible());
  expect_contains(m.first_unsupported_feature(), "mixture of experts");
}

TEST(ModelFamilies, Qwen3MoE) {
  const ModelSpec a = find_model("qwen3-30b-a3b");
  // Qwen's model card: 30.5B total, 3.3B activated (embeddings included), 29.9B non-embedding.
  EXPECT_EQ(a.num_params(), 30'532'122'624);
  expect_near_published(static_cast<double>(a.num_params()), 30.5 * kB, 0.002, "total");
  const ParamCounts p = a.params();
  expect_near_published(static_cast<double>(a.num_params() - p.embedding - p.lm_head), 29.9 * kB, 0.002, "non-embedding");
  expect_near_published(static_cast<double>(a.active_params() + p.embedding), 3.3 * kB, 0.02, "active");
  EXPECT_EQ(a.kv_bytes_per_token(), 48 * 2 * 4 * 128 * 2);
  EXPECT_EQ(a.weight_bytes(), 2 * a.num_params());

  const ModelSpec b = find_model("qwen3-235b-a22b");
  expect_near_published(static_cast<double>(b.num_params()), 235 * kB, 0.002, "total");
  expect_near_published(static_cast<double>(b.active_params() + b.params().embedding), 22 * kB, 0.01, "active");
  EXPECT_EQ(b.kv_bytes_per_token(), 94 * 2 * 4 * 128 * 2);
}

TEST(ModelFamilies, Mixtral8x7B) {
  const ModelSpec m = find_model("mixtral-8x7b");
  // Mistral AI: 46.7B total, 12.9B active per token (embeddings included).
  expect_near_published(static_cast<double>(m.num_params()), 46.7 * kB, 0.001, "total");
  expect_near_published(static_cast<double>(m.active_params() + m.params().embedding), 12.9 * kB, 0.002, "active");
  EXPECT_EQ(m.kv_bytes_per_token(), 131'072);
  EXPECT_EQ(m.window.num_layers, 0);  // sliding_window null
}

TEST(ModelFamilies, GptOss120B) {
  const ModelSpec m = find_model("gpt-oss-120b");
  // OpenAI's model card: 116.83B total, 5.13B active (embedding excluded); MXFP4 experts make
  // the checkpoint 60.8 GiB.
  EXPECT_EQ(m.num_params(), 116'829'156'672);
  expect_near_published(static_cast<double>(m.active_params()), 5.13 * kB, 0.003, "active");
  EXPECT_EQ(m.quant.format, WeightFormat::kMxfp4);
  EXPECT_FALSE(m.quant.attention);
  expect_near_published(static_cast<double>(m.weight_bytes()) / (1 << 30), 60.8, 0.01, "GiB");
  // 18 of 36 layers slide over 128 tokens; 8 KV heads of 64.
  EXPECT_EQ(m.window.tokens, 128);
  EXPECT_EQ(m.window.num_layers, 18);
  EXPECT_EQ(m.kv_bytes_per_token(), 36 * 2 * 8 * 64 * 2);
  EXPECT_EQ(m.kv_bytes_for_tokens(100), 100 * m.kv_bytes_per_token());
  EXPECT_EQ(m.kv_bytes_for_tokens(10'000), 2048 * (18 * 10'000 + 18 * 128));
}

TEST(ModelFamilies, Gemma3_27B) {
  const ModelSpec m = find_model("gemma-3-27b");
  // Google: 27B (27.4B with the 0.4B SigLIP vision tower, which is not modelled).
  EXPECT_EQ(m.num_params(), 27'009'346'304);
  expect_near_published(static_cast<double>(m.num_params()), 27.0 * kB, 0.005, "total");
  // Every sixth layer global, the others slide over 1024 tokens: 52 of 62.
  EXPECT_EQ(m.window.tokens, 1024);
  EXPECT_EQ(m.window.num_layers, 52);
  EXPECT_EQ(m.kv_bytes_per_token(), 62 * 2 * 16 * 128 * 2);
  EXPECT_EQ(m.kv_bytes_for_tokens(32'768), int64_t{8192} * (10 * 32'768 + 52 * 1024));
  EXPECT_EQ(m.norms_per_layer, 4);
  EXPECT_TRUE(m.qk_norm);
  EXPECT_TRUE(m.tie_word_embeddings);
}

TEST(ModelFamilies, Llama33_70B) {
  const ModelSpec m = find_model("llama-3.3-70b");
  EXPECT_EQ(m.num_params(), 70'553'706'496);
  EXPECT_EQ(m.active_params() + m.params().embedding, m.num_params());
  EXPECT_EQ(m.kv_bytes_per_token(), 327'680);
  EXPECT_TRUE(m.dense_llama_compatible()) << m.first_unsupported_feature();
}

// The shipped dense models keep their figures, and say whether a Llama executor can run them.
TEST(ModelFamilies, DenseModelsAreWhatTheyWere) {
  for (const char* name : {"llama-3.1-8b", "llama-3.1-70b", "qwen2.5-7b"}) {
    const ModelSpec m = find_model(name);
    EXPECT_FALSE(m.is_moe() || m.is_mla()) << name;
    EXPECT_EQ(m.window.num_layers, 0) << name;
    EXPECT_EQ(m.weight_bytes(), 2 * m.num_params()) << name;
    EXPECT_TRUE(m.dense_llama_compatible()) << name << ": " << m.first_unsupported_feature();
    const KvGeometry g = m.kv_geometry(16, 0);
    EXPECT_EQ(g.blocks_for_tokens(100'000), (100'000 + 15) / 16) << name;
  }
  // Mistral-7B-v0.1 slides every layer over 4096 tokens: the same KV up to the window, capped after.
  const ModelSpec mistral = find_model("mistral-7b");
  EXPECT_EQ(mistral.window.num_layers, 32);
  EXPECT_EQ(mistral.kv_bytes_for_tokens(4096), 4096 * mistral.kv_bytes_per_token());
  EXPECT_EQ(mistral.kv_bytes_for_tokens(20'000), 4096 * mistral.kv_bytes_per_token());
  EXPECT_EQ(mistral.kv_geometry(16, 0).blocks_for_tokens(4096), 256);
  EXPECT_EQ(mistral.kv_geometry(16, 0).blocks_for_tokens(20'000), 257);  // the window spans 257 blocks
  expect_contains(mistral.first_unsupported_feature(), "sliding_window 4096");
}

const char* const kSmallLlama = R"({"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4,
  "intermediate_size": 128, "vocab_size": 100, "max_position_embeddings": 4096)";

std::string config(const std::string& extra) { return std::string(kSmallLlama) + extra + "}"; }

TEST(ModelFamilies, KeysThatChangeMemoryOrComputeAreRefusedByName) {
  // A key the reader does not know.
  std::string e = error_of([] { parse_model_config(config(R"(, "moe_widget": 3)"), "c.json"); });
  expect_contains(e, "c.json: key \"moe_widget\"");
  expect_contains(e, "--accept-unmodelled moe_widget");
  // A key it knows and does not model.
  e = error_of([] { parse_model_config(config(R"(, "attention_chunk_size": 8192)"), "c.json"); });
  expect_contains(e, "key \"attention_chunk_size\": is chunked local attention");
  e = error_of([] { parse_model_config(config(R"(, "vision_config": {"hidden_size": 8})"), "c.json"); });
  expect_contains(e, "\"vision_config\": is a multimodal model");
  // Quantization it does not model, and a key of quantization_config it does not know.
  e = error_of([] { parse_model_config(config(R"(, "quantization_config": {"quant_method": "awq", "bits": 4})"), "c.json"); });
  expect_contains(e, "quantization_config.bits");
  e = error_of([] { parse_model_config(config(R"(, "quantization_config": {"quant_method": "awq"})"), "c.json"); });
  expect_contains(e, "\"quantization_config.quant_method\": quant_method \"awq\"");
  // An architecture it does not know, and a layer type.
  e = error_of([] { parse_model_config(config(R"(, "model_type": "olmo2")"), "c.json"); });
  expect_contains(e, "key \"model_type\": \"olmo2\"");
  e = error_of([] {
    parse_model_config(config(R"(, "sliding_window": 64, "layer_types": ["full_attention", "chunked_attention"])"), "c.json");
  });
  expect_contains(e, "key \"layer_types\": layer 1 is \"chunked_attention\"");
  // A module kept unquantized in one layer only.
  e = error_of([] {
    parse_model_config(config(R"(, "quantization_config": {"quant_method": "fp8", "modules_to_not_convert": ["model.layers.0.mlp"]})"), "c.json");
  });
  expect_contains(e, "quantization_config.modules_to_not_convert");
}

TEST(ModelFamilies, AcceptedKeysAreListedNotSilentlyDropped) {
  ModelReadOptions accept;
  accept.accept_unmodelled = {"attention_chunk_size", "moe_widget"};
  const ModelSpec m = parse_model_config(config(R"(, "attention_chunk_size": 8192, "moe_widget": 1)"), "c.json", accept);
  ASSERT_EQ(m.unmodelled.size(), 2u);
  expect_contains(m.unmodelled[0] + m.unmodelled[1], "attention_chunk_size: is chunked local attention");
  EXPECT_FALSE(m.dense_llama_compatible());
  // Only the keys named: another one is still refused.
  const std::string e = error_of([&] { parse_model_config(config(R"(, "index_topk": 64)"), "c.json", accept); });
  expect_contains(e, "index_topk");
  ModelReadOptions all;
  all.accept_all = true;
  EXPECT_EQ(parse_model_config(config(R"(, "index_topk": 64)"), "c.json", all).unmodelled.size(), 1u);
}

TEST(ModelFamilies, QuantizedModulesFollowModulesToNotConvert) {
  const ModelSpec dense = parse_model_config(config(""), "c.json");
  const ModelSpec fp8 = parse_model_config(
      config(R"(, "quantization_config": {"quant_method": "fp8", "activation_scheme": "dynamic", "weight_block_size": [128, 128]})"), "c.json");
  const ParamCounts p = dense.params();
  const int64_t matrices = p.attention + p.dense_mlp;
  EXPECT_EQ(fp8.weight_bytes(), (p.total() - matrices) * 2 + matrices + (matrices * 4 + 16383) / 16384);
  EXPECT_EQ(fp8.active_quantized_params(), matrices);
  const ModelSpec attn_bf16 = parse_model_config(
      config(R"(, "quantization_config": {"quant_method": "fp8", "modules_to_not_convert": ["model.layers.*.self_attn", "lm_head"]})"), "c.json");
  EXPECT_FALSE(attn_bf16.quant.attention);
  EXPECT_FALSE(attn_bf16.quant.activations);  // no activation_scheme: weight-only
  EXPECT_EQ(attn_bf16.weight_bytes(), (p.total() - p.dense_mlp) * 2 + p.dense_mlp);
}

TEST(ModelFamilies, KvDtypeNames) {
  EXPECT_EQ(parse_kv_dtype("fp8", "kv.dtype"), 1);
  EXPECT_EQ(parse_kv_dtype("BF16", "kv.dtype"), 2);
  EXPECT_EQ(parse_kv_dtype("auto", "kv.dtype"), 0);
  expect_contains(error_of([] { parse_kv_dtype("int3", "kv.dtype"); }), "kv.dtype 'int3': expected one of");
}

}  // namespace
}  // namespace flowkv::core
