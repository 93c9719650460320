// The model families from the command line, as a new user meets them (issue 15): DeepSeek-V3's
// config on the default cluster is refused with its weights' size instead of simulating a 39B
// dense model; `kv plan` shows its MLA latent; a config key FlowKV does not model is refused by
// name (exit 2) unless accepted, and then summary.json says so; the GPU names people type work;
// the shipped family scenarios run.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/flowkv_cli.h"

namespace {

namespace fs = std::filesystem;
using flowkv::testing::run_flowkv;

void expect_contains(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "'" << part << "' not in: " << text;
}

class ModelsCli : public flowkv::testing::ScratchDirTest {
 protected:
  const fs::path& path() const { return dir_; }
};

TEST_F(ModelsCli, DeepSeekV3OnTheDefaultClusterIsRefusedWithItsWeights) {
  const auto r = run_flowkv("simulate --scenario default --model deepseek-v3 --quiet --out " + (path() / "out").string());
  EXPECT_EQ(r.exit_code, 2) << r.out;
  expect_contains(r.out, "error: cluster.nodes[0]: deepseek-v3's weights (626.");
  expect_contains(r.out, "leave no room for KV in 1 x H100-SXM (72.0 GiB");
  EXPECT_FALSE(fs::exists(path() / "out"));
}

TEST_F(ModelsCli, LiveRefusesAFamilyItsExecutorsDoNotRunByName) {
  // The live executors run dense Llama-architecture models only: a mixture of experts is
  // refused before any weights are made, naming the feature; nothing is written.
  const auto r = run_flowkv("live --scenario live-cpu --model mixtral-8x7b --gpu H200 --device cpu --out " +
                            (path() / "out").string());
  EXPECT_EQ(r.exit_code, 2) << r.out;
  expect_contains(r.out, "mixture of experts (8 experts, 2 per token) is not implemented by them");
  EXPECT_FALSE(fs::exists(path() / "out"));
}

TEST_F(ModelsCli, KvPlanShowsTheMlaLatentAndTheWeights) {
  const auto r = run_flowkv("kv plan --model deepseek-v3 --tokens 1000 --json", flowkv::testing::Stderr::kDropped);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto out = nlohmann::json::parse(r.out);
  EXPECT_EQ(out.at("kv_bytes_per_token"), 70'272);
  EXPECT_EQ(out.at("params"), 671'026'419'200);
  EXPECT_EQ(out.at("blocks"), 63);
  EXPECT_EQ(out.at("bytes"), 63 * 16 * 70'272);
  // Per block on the paged layout: one latent chunk per layer, 61 copies a block (not 2 x 61).
  for (const auto& p : out.at("plans")) {
    if (p.at("layout") == "paged" && p.at("merge") == false) {
      EXPECT_EQ(p.at("calls"), 63 * 61);
    }
    if (p.at("layout") == "contiguous" && p.at("merge") == true) {
      EXPECT_EQ(p.at("calls"), 1);
    }
  }
  const auto table = run_flowkv("kv plan --model deepseek-v3 --tokens 1000 --kv-dtype fp8");
  ASSERT_EQ(table.exit_code, 0) << table.out;
  expect_contains(table.out, "one MLA latent of 576, 1-byte elements = 35,136 bytes of KV per token");
  expect_contains(table.out, "671,026,419,200 parameters");
}

TEST_F(ModelsCli, KvPlanCapsWindowedLayers) {
  const auto r = run_flowkv("kv plan --model gpt-oss-120b --tokens 10000 --json", flowkv::testing::Stderr::kDropped);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto out = nlohmann::json::parse(r.out);
  // 625 token blocks for the 18 full layers, 9 for the 18 sliding over 128 tokens, packed 36
  // layers a block: 317 blocks, not 625.
  EXPECT_EQ(out.at("blocks"), 317);
}

TEST_F(ModelsCli, UnmodelledConfigKeysAreRefusedByNameUnlessAccepted) {
  fs::create_directories(path());
  const fs::path config = path() / "my-model" / "config.json";
  fs::create_directories(config.parent_path());
  std::ofstream(config) << R"({"num_hidden_layers": 4, "hidden_size": 512, "num_attention_heads": 8,
    "num_key_value_heads": 8, "intermediate_size": 1024, "vocab_size": 1000,
    "max_position_embeddings": 4096, "attention_chunk_size": 1024})";
  const auto plan = run_flowkv("kv plan --model " + config.string() + " --tokens 100");
  EXPECT_EQ(plan.exit_code, 2) << plan.out;
  expect_contains(plan.out, "key \"attention_chunk_size\": is chunked local attention");
  expect_contains(plan.out, "--accept-unmodelled attention_chunk_size");
  const auto accepted = run_flowkv("kv plan --model " + config.string() + " --tokens 100 --accept-unmodelled attention_chunk_size");
  EXPECT_EQ(accepted.exit_code, 0) << accepted.out;
  expect_contains(accepted.out, "warning: model config key attention_chunk_size");

  const std::string sim = "simulate --scenario default --model " + config.string() +
                          " --set workload.max_requests=20 --quiet --out " + (path() / "run").string();
  const auto refused = run_flowkv(sim);
  EXPECT_EQ(refused.exit_code, 2) << refused.out;
  expect_contains(refused.out, "error: model: ");
  const auto ran = run_flowkv(sim + " --accept-unmodelled attention_chunk_size");
  ASSERT_EQ(ran.exit_code, 0) << ran.out;
  std::ifstream in(path() / "run" / "summary.json");
  const auto summary = nlohmann::json::parse(in);
  ASSERT_EQ(summary.at("warnings").size(), 1u);
  expect_contains(summary.at("warnings")[0].get<std::string>(), "attention_chunk_size");
}

TEST_F(ModelsCli, GpuNamesPeopleTypeAndTheFamilyScenariosRun) {
  const auto h100 = run_flowkv("simulate --scenario default --gpu h100 --set workload.max_requests=20 --quiet --out " +
                               (path() / "h100").string());
  EXPECT_EQ(h100.exit_code, 0) << h100.out;
  for (const char* scenario : {"qwen3-30b-a3b-2p2d", "deepseek-v3-ep"}) {
    const fs::path out = path() / scenario;
    const auto r = run_flowkv(std::string("simulate --scenario ") + scenario +
                              " --set workload.max_requests=300 --quiet --out " + out.string());
    ASSERT_EQ(r.exit_code, 0) << scenario << ": " << r.out;
    std::ifstream in(out / "summary.json");
    const auto summary = nlohmann::json::parse(in);
    EXPECT_EQ(summary.at("requests").at("completed"), 300) << scenario;
    EXPECT_FALSE(summary.contains("warnings")) << scenario;
  }
}

}  // namespace
