// Node memory for the model families of issue 15: a node's KV pool is its memory less the weights
// as stored (FP8, MXFP4), one copy of the non-expert weights per data-parallel attention replica,
// in blocks of the model's real KV (MLA's latent, kept whole on every tensor-parallel rank); a
// model that does not fit is refused with the numbers; parallelism and kv.dtype are validated
// where they enter.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/base/error.h"
#include "core/sched/load_scenario.h"

namespace flowkv::core {
namespace {

using nlohmann::json;

constexpr double kGiB = 1024.0 * 1024 * 1024;

json cluster(const std::string& model, const json& node) {
  json j = json::parse(R"({"name": "t", "workload": {"trace": "x.csv"}})");
  j["model"] = model;
  j["cluster"] = {{"nodes", json::array({node})}};
  return j;
}

std::string error_of(const json& j) {
  try {
    parse_scenario(j, "test.json", ".");
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2) << e.what();
    return e.what();
  }
  return "";
}

void expect_contains(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "'" << part << "' not in: " << text;
}

TEST(ScenarioFamilies, DeepSeekV3DoesNotFitOneH100AndSaysWhy) {
  const std::string e = error_of(cluster("deepseek-v3", {{"gpu", "H100-SXM"}, {"role", "colocated"}}));
  expect_contains(e, "cluster.nodes[0]: deepseek-v3's weights (626.");
  expect_contains(e, "leave no room for KV in 1 x H100-SXM (72.0 GiB at memory_fraction 0.90)");
}

TEST(ScenarioFamilies, DeepSeekV3PoolOnEightH200) {
  // TP 8: every rank keeps the whole latent, so a token costs 8 x 70,272 bytes of the node.
  const Scenario tp = parse_scenario(
      cluster("deepseek-v3", {{"gpu", "H200"}, {"role", "colocated"}, {"tensor_parallel", 8}}), "t", ".");
  const double memory = 8 * 141 * kGiB * 0.9;
  const double weights = static_cast<double>(tp.model.weight_bytes());
  EXPECT_EQ(tp.nodes[0].kv_replication, 8.0);
  EXPECT_EQ(tp.nodes[0].layout.geometry.num_blocks,
            static_cast<int64_t>((memory - weights) / (16.0 * 70'272 * 8)));
  // DP attention 8 + EP 8: one latent copy, but eight copies of the non-expert weights.
  const Scenario dp = parse_scenario(
      cluster("deepseek-v3", {{"gpu", "H200"}, {"role", "colocated"}, {"data_parallel_attention", 8}, {"expert_parallel", 8}}),
      "t", ".");
  const int64_t experts = dp.model.routed_expert_bytes();
  const double dp_weights = static_cast<double>(8 * (dp.model.weight_bytes() - experts) + experts);
  EXPECT_EQ(dp.nodes[0].gpus(), 8);
  EXPECT_EQ(dp.nodes[0].kv_replication, 1.0);
  EXPECT_EQ(dp.nodes[0].layout.geometry.num_blocks, static_cast<int64_t>((memory - dp_weights) / (16.0 * 70'272)));
  EXPECT_GT(dp.nodes[0].layout.geometry.num_blocks, 4 * tp.nodes[0].layout.geometry.num_blocks);
  EXPECT_EQ(dp.resolved["cluster"]["nodes"][0]["expert_parallel"], 8);
  EXPECT_EQ(dp.resolved["cluster"]["nodes"][0]["interconnect"]["name"], "NVLink4");
}

TEST(ScenarioFamilies, Qwen3_30B_A3B_PoolOnOneH100) {
  // 30.5B bf16 parameters leave about 15 GiB of an H100's 72 GiB for KV (not the 70 GiB a 3B
  // model would leave), at 96 KiB per token.
  const Scenario s = parse_scenario(cluster("qwen3-30b-a3b", {{"gpu", "h100"}, {"role", "colocated"}}), "t", ".");
  const double kv = 80 * kGiB * 0.9 - 2.0 * 30'532'122'624;
  EXPECT_NEAR(kv / kGiB, 15.1, 0.1);
  EXPECT_EQ(s.nodes[0].layout.geometry.num_blocks, static_cast<int64_t>(kv / (16.0 * 98'304)));
  EXPECT_EQ(s.nodes[0].gpu.name, "H100-SXM");
  // An fp8 cache holds twice the tokens.
  json j = cluster("qwen3-30b-a3b", {{"gpu", "H100-SXM"}, {"role", "colocated"}});
  j["kv"] = {{"dtype", "fp8"}};
  const Scenario fp8 = parse_scenario(j, "t", ".");
  EXPECT_EQ(fp8.model.kv_bytes_per_token(), 49'152);
  EXPECT_EQ(fp8.nodes[0].layout.geometry.num_blocks, static_cast<int64_t>(kv / (16.0 * 49'152)));
  EXPECT_EQ(fp8.resolved["kv"]["dtype"], "fp8");
}

TEST(ScenarioFamilies, ParallelismIsCheckedWhereItEnters) {
  expect_contains(error_of(cluster("llama-3.1-8b", {{"gpu", "H100-SXM"}, {"role", "colocated"}, {"tensor_parallel", 2},
                                                    {"expert_parallel", 2}})),
                  "cluster.nodes[0].expert_parallel: expected 1: llama-3.1-8b has no experts");
  expect_contains(error_of(cluster("qwen3-30b-a3b", {{"gpu", "H100-SXM"}, {"role", "colocated"}, {"tensor_parallel", 4},
                                                     {"expert_parallel", 2}})),
                  "cluster.nodes[0].expert_parallel: expected 1 (experts split tensor-parallel) or the node's GPU count");
  expect_contains(error_of(cluster("qwen3-30b-a3b", {{"gpu", "H100-SXM"}, {"role", "colocated"}, {"data_parallel_attention", 0}})),
                  "cluster.nodes[0].data_parallel_attention: expected an integer >= 1");
  json bad_dtype = cluster("qwen3-30b-a3b", {{"gpu", "H100-SXM"}, {"role", "colocated"}});
  bad_dtype["kv"] = {{"dtype", "int4"}};
  expect_contains(error_of(bad_dtype), "kv.dtype: kv.dtype 'int4': expected one of");
  json windowed_prefix = cluster("gpt-oss-120b", {{"gpu", "H100-SXM"}, {"role", "colocated"}});
  windowed_prefix["kv"] = {{"prefix_cache", true}};
  expect_contains(error_of(windowed_prefix), "kv.prefix_cache: not modelled for gpt-oss-120b");
}

TEST(ScenarioFamilies, TensorParallelBeyondTheKvHeadsReplicatesThem) {
  // Qwen3-30B-A3B has 4 KV heads: at TP 8 each is kept twice.
  const Scenario s = parse_scenario(
      cluster("qwen3-30b-a3b", {{"gpu", "H100-SXM"}, {"role", "colocated"}, {"tensor_parallel", 8}}), "t", ".");
  EXPECT_EQ(s.nodes[0].kv_replication, 2.0);
  const Scenario llama = parse_scenario(
      cluster("llama-3.1-70b", {{"gpu", "H100-SXM"}, {"role", "colocated"}, {"tensor_parallel", 8}}), "t", ".");
  EXPECT_EQ(llama.nodes[0].kv_replication, 1.0);
}

TEST(ScenarioFamilies, AcceptedUnmodelledKeysBecomeWarnings) {
  const auto dir = std::filesystem::temp_directory_path() / "flowkv_scenario_families_test";
  std::filesystem::create_directories(dir);
  json config = json::parse(R"({"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4,
    "intermediate_size": 128, "vocab_size": 100, "max_position_embeddings": 4096, "attention_chunk_size": 512})");
  std::ofstream(dir / "config.json") << config.dump();
  json j = cluster((dir / "config.json").string(), {{"gpu", "H100-SXM"}, {"role", "colocated"}});
  expect_contains(error_of(j), "key \"attention_chunk_size\"");
  j["accept_unmodelled"] = {"attention_chunk_size"};
  const Scenario s = parse_scenario(j, "t", ".");
  ASSERT_EQ(s.warnings.size(), 1u);
  expect_contains(s.warnings[0], "attention_chunk_size");
  EXPECT_EQ(s.resolved["accept_unmodelled"], json::array({"attention_chunk_size"}));
  // The flag form: --accept-unmodelled all.
  json k = cluster((dir / "config.json").string(), {{"gpu", "H100-SXM"}, {"role", "colocated"}});
  ScenarioOverrides o;
  o.accept_unmodelled = "all";
  apply_flag_overrides(k, o);
  EXPECT_EQ(parse_scenario(k, "t", ".").warnings.size(), 1u);
  std::filesystem::remove_all(dir);
}

TEST(ScenarioFamilies, GpuNamesPeopleType) {
  for (const auto& [typed, name] : {std::pair{"h100", "H100-SXM"}, {"H100", "H100-SXM"}, {"h100-sxm", "H100-SXM"},
                                    {"H100 SXM", "H100-SXM"}, {"a100", "A100-80G"}, {"h200", "H200"},
                                    {"b200", "B200"}, {"mi300x", "MI300X"}, {"MI300X", "MI300X"}}) {
    EXPECT_EQ(find_gpu(typed).name, name) << typed;
  }
  EXPECT_NEAR(find_gpu("H100-SXM").fp8_flops / find_gpu("H100-SXM").bf16_flops, 2.0, 0.001);  // Hopper
  EXPECT_EQ(find_gpu("A100-80G").fp8_flops, 0);
  EXPECT_EQ(find_gpu("b200").memory_bytes, int64_t{180} << 30);
  EXPECT_EQ(find_gpu("mi300x").memory_bytes, int64_t{192} << 30);
}

}  // namespace
}  // namespace flowkv::core
