// The CPU forward against an independent float64 Llama in pure Python (tools/llama_reference.py,
// goldens in tests/runtime/golden/): the architecture itself (RoPE rotate_half pairs and llama3
// scaling, GQA head mapping, RMSNorm, SwiGLU, q/k/v biases, tied embeddings) and the random
// weights' bit-exact re-implementation. The paged-vs-reference tests cannot see a shared math
// error; this one can. Regenerate with `python3 tools/llama_reference.py` only on purpose.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/cpu/cpu_executor.h"
#include "runtime/cpu/reference_forward.h"
#include "tests/runtime/exec_driver.h"
#include "tests/scratch.h"

namespace flowkv::runtime {
namespace {

struct Golden {
  core::ModelSpec spec;
  uint64_t seed = 0;
  std::vector<int32_t> prompt;
  std::vector<int32_t> tokens;
  std::vector<float> logits;  // [tokens][vocab], float64 values rounded to float
};

Golden load(const std::string& name) {
  const std::string path = std::string(FLOWKV_SOURCE_DIR) + "/tests/runtime/golden/" + name + ".json";
  const nlohmann::json j = nlohmann::json::parse(flowkv::testing::read_file(path));
  Golden g;
  g.spec = core::parse_model_config(j.at("config").dump(), path);
  g.seed = j.at("seed").get<uint64_t>();
  g.prompt = j.at("prompt").get<std::vector<int32_t>>();
  g.tokens = j.at("tokens").get<std::vector<int32_t>>();
  for (const auto& row : j.at("logits")) {
    for (const auto& v : row) g.logits.push_back(v.get<float>());
  }
  return g;
}

// float32 arithmetic (bf16-valued weights, fp32 KV) against float64: agreement to ~1e-6.
void expect_close(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    worst = std::max(worst, std::abs(double{got[i]} - want[i]) / (1.0 + std::abs(want[i])));
  }
  EXPECT_LT(worst, 2e-5) << "largest relative logit difference";
}

class LlamaGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(LlamaGolden, ReferenceMatchesTheFloat64Forward) {
  const Golden g = load(GetParam());
  const ModelWeights w = random_weights(g.spec, g.seed);
  std::vector<float> logits;
  const auto tokens = reference_generate(w, 4, g.prompt, static_cast<int64_t>(g.tokens.size()), logits);
  EXPECT_EQ(tokens, g.tokens);
  expect_close(logits, g.logits);
}

TEST_P(LlamaGolden, PagedExecutorMatchesTheFloat64Forward) {
  const Golden g = load(GetParam());
  const auto w = std::make_shared<const ModelWeights>(random_weights(g.spec, g.seed));
  CpuDevice device(w);
  auto node = device.make_node(
      testing::make_layout(g.spec, core::LayoutKind::kPagedPerLayer, 4, 4, 16));
  std::vector<testing::DrivenRequest> rs(1);
  rs[0].prompt = g.prompt;
  rs[0].outputs = static_cast<int64_t>(g.tokens.size());
  rs[0].blocks = {9, 2, 14, 5};
  rs[0].chunks = {3};
  testing::run_requests(*node, rs, g.spec.vocab_size);
  EXPECT_EQ(rs[0].generated, g.tokens);
  expect_close(rs[0].logits, g.logits);
}

INSTANTIATE_TEST_SUITE_P(Cases, LlamaGolden, ::testing::Values("llama_gqa", "llama3_bias_tied"));

}  // namespace
}  // namespace flowkv::runtime
