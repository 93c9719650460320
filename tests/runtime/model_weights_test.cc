// ModelWeights: random weights are a pure function of (spec, seed) with the shapes the
// executors expect and bf16-representable values; check_executable refuses what the executors
// do not implement, naming it.
#include "runtime/model/model_weights.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "core/base/error.h"
#include "runtime/model/random_weights.h"

namespace flowkv::runtime {
namespace {

core::ModelSpec tiny() { return core::find_model("tiny-llama"); }

bool bf16_representable(const std::vector<float>& v) {
  for (float x : v) {
    uint32_t bits;
    std::memcpy(&bits, &x, 4);
    if ((bits & 0xFFFFu) != 0) return false;
  }
  return true;
}

TEST(ModelWeights, TinyLlamaShapes) {
  const ModelWeights w = random_weights(tiny(), 1);
  EXPECT_TRUE(w.random);
  EXPECT_EQ(w.seed, 1u);
  EXPECT_EQ(w.embed.size(), 512u * 128);
  EXPECT_EQ(w.lm_head.size(), 512u * 128);
  EXPECT_EQ(w.final_norm.size(), 128u);
  ASSERT_EQ(w.layers.size(), 2u);
  for (const LayerWeights& l : w.layers) {
    EXPECT_EQ(l.attn_norm.size(), 128u);
    EXPECT_EQ(l.qkv.size(), (4u + 2 * 2) * 32 * 128);
    EXPECT_TRUE(l.qkv_bias.empty());
    EXPECT_EQ(l.o.size(), 128u * 4 * 32);
    EXPECT_EQ(l.mlp_norm.size(), 128u);
    EXPECT_EQ(l.gate_up.size(), 2u * 384 * 128);
    EXPECT_EQ(l.down.size(), 128u * 384);
  }
  // Parameters in the vectors = the spec's count (lm_head untied).
  int64_t n = static_cast<int64_t>(w.embed.size() + w.lm_head.size() + w.final_norm.size());
  for (const LayerWeights& l : w.layers) {
    n += static_cast<int64_t>(l.attn_norm.size() + l.qkv.size() + l.o.size() +
                              l.mlp_norm.size() + l.gate_up.size() + l.down.size());
  }
  EXPECT_EQ(n, w.spec.num_params());
}

TEST(ModelWeights, DeterministicPerSeedDifferentAcrossSeeds) {
  const ModelWeights a = random_weights(tiny(), 42);
  const ModelWeights b = random_weights(tiny(), 42);
  const ModelWeights c = random_weights(tiny(), 43);
  EXPECT_EQ(a.embed, b.embed);
  EXPECT_EQ(a.layers[1].gate_up, b.layers[1].gate_up);
  EXPECT_EQ(a.lm_head, b.lm_head);
  EXPECT_NE(a.embed, c.embed);
  EXPECT_NE(a.layers[1].down, c.layers[1].down);
  // Layers differ from one another (the layer is in the tensor id).
  EXPECT_NE(a.layers[0].qkv, a.layers[1].qkv);
}

TEST(ModelWeights, ValuesAreBf16AndFollowThePureFunction) {
  const ModelWeights w = random_weights(tiny(), 5);
  EXPECT_TRUE(bf16_representable(w.embed));
  EXPECT_TRUE(bf16_representable(w.layers[0].qkv));
  EXPECT_TRUE(bf16_representable(w.layers[1].attn_norm));
  EXPECT_TRUE(bf16_representable(w.lm_head));
  // Element 77 of layer 1's down projection, from the function a GPU fills in place.
  const WeightInit init = weight_init(WeightTensor::kDown, 128, 128, 384);
  EXPECT_EQ(w.layers[1].down[77], random_weight(5, tensor_id(WeightTensor::kDown, 1), 77,
                                                init.scale, init.offset));
  // Norms near 1, projections within 1/sqrt(fan_in).
  for (float v : w.layers[0].mlp_norm) {
    EXPECT_GE(v, 0.949f);
    EXPECT_LE(v, 1.051f);
  }
  for (float v : w.layers[0].down) EXPECT_LE(std::abs(v), 1.0f / std::sqrt(384.0f) + 1e-3f);
}

TEST(ModelWeights, TiedLmHeadIsTheEmbeddingAndBiasesExistWhenAsked) {
  core::ModelSpec s = tiny();
  s.tie_word_embeddings = true;
  s.attention_bias = true;
  const ModelWeights w = random_weights(s, 3);
  EXPECT_EQ(w.lm_head, w.embed);
  EXPECT_EQ(w.layers[0].qkv_bias.size(), (4u + 2 * 2) * 32);
  EXPECT_TRUE(bf16_representable(w.layers[0].qkv_bias));
}

std::string input_error(const core::ModelSpec& s) {
  try {
    check_executable(s);
  } catch (const core::Error& e) {
    EXPECT_EQ(e.exit_code(), 2) << e.what();
    return e.what();
  }
  return "no error";
}

TEST(ModelWeights, CheckExecutableNamesWhatIsUnsupported) {
  EXPECT_EQ(input_error(tiny()), "no error");
  EXPECT_EQ(input_error(core::find_model("llama-3.1-8b")), "no error");  // llama3 scaling
  const core::ModelSpec yarn = core::parse_model_config(
      R"({"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 2,
          "intermediate_size": 128, "vocab_size": 100, "max_position_embeddings": 1024,
          "model_type": "llama", "rope_scaling": {"rope_type": "yarn", "factor": 4.0}})",
      "yarn.json");
  const std::string e = input_error(yarn);
  EXPECT_NE(e.find("rope_type \"yarn\" is not implemented by the executors"), std::string::npos) << e;
  EXPECT_THROW(random_weights(yarn, 1), core::Error);
  core::ModelSpec moe = tiny();
  moe.model_type = "mixtral";
  EXPECT_NE(input_error(moe).find("model_type \"mixtral\""), std::string::npos);
  core::ModelSpec odd = tiny();
  odd.head_dim = 31;
  EXPECT_NE(input_error(odd).find("head_dim 31 is odd"), std::string::npos);
  core::ModelSpec fp8 = tiny();
  fp8.dtype_bytes = 1;
  EXPECT_NE(input_error(fp8).find("a KV dtype of 1 bytes"), std::string::npos);
}

}  // namespace
}  // namespace flowkv::runtime
