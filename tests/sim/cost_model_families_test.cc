// The roofline for MoE, MLA, FP8 and sliding windows, checked against figures computed here from
// the specs: a decode step reads the experts its batch touches (E (1 - (1 - k/E)^B), not all E and
// not only k), MLA decodes in the absorbed form over one latent, W8A8 weights run at the FP8 peak,
// windowed layers stop at their window, expert parallelism pays its all-to-all. The policies'
// estimator agrees with the simulator for these models too.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/sched/cost_estimate.h"
#include "core/sched/load_scenario.h"
#include "sim/cost_model.h"

namespace flowkv::sim {
namespace {

core::Scenario scenario(const char* model, nlohmann::json node, nlohmann::json cost = nlohmann::json::object()) {
  nlohmann::json j = {{"name", "t"}, {"model", model}, {"workload", {{"trace", "x.csv"}}}};
  j["cluster"] = {{"nodes", nlohmann::json::array({node})}};
  cost["iteration_overhead_us"] = 0;
  j["cost_model"] = cost;
  return core::parse_scenario(j, "test", ".");
}

core::Iteration decode_batch(std::vector<core::DecodeItem>& items, int64_t batch, int64_t context_each) {
  items.assign(static_cast<size_t>(batch), core::DecodeItem{core::RequestId{0}, context_each, {}});
  core::Iteration it;
  it.decode = items;
  it.decode_context_tokens = batch * context_each;
  return it;
}

TEST(CostModelFamilies, MoeDecodeReadsTheExpertsTheBatchTouches) {
  const core::Scenario s = scenario("qwen3-30b-a3b", {{"gpu", "H100-SXM"}, {"role", "colocated"}},
                                    {{"memory_efficiency", 0.5}});
  const ComputeModel m(s.model, s.nodes[0], s.cost);
  const core::ModelSpec& q = s.model;
  const double bw = s.nodes[0].gpu.hbm_bytes_per_s * 0.5;
  const double experts = static_cast<double>(q.routed_expert_bytes());
  const double others = static_cast<double>(q.weight_bytes()) - experts;
  for (int64_t batch : {1, 8, 64, 512}) {
    std::vector<core::DecodeItem> items;
    const core::Iteration it = decode_batch(items, batch, 1000);
    const double touched = 128.0 * (1.0 - std::pow(1.0 - 8.0 / 128.0, static_cast<double>(batch)));
    const double bytes = others + experts * touched / 128.0 +
                         static_cast<double>(q.kv_bytes_per_token()) * static_cast<double>(batch * 1000 + batch);
    EXPECT_NEAR(m.iteration_time(it).seconds(), bytes / bw, 1e-8) << batch;
  }
  // One token reads 8 of the 128 experts: far less than the dense read of all 30.5B parameters.
  std::vector<core::DecodeItem> one;
  EXPECT_LT(m.iteration_time(decode_batch(one, 1, 0)).seconds(), 0.2 * static_cast<double>(q.weight_bytes()) / bw);
}

TEST(CostModelFamilies, MlaDecodeIsTheAbsorbedFormOverOneLatent) {
  const core::Scenario s = scenario("deepseek-v3", {{"gpu", "H200"}, {"role", "colocated"}, {"data_parallel_attention", 8},
                                                    {"expert_parallel", 8}});
  const ComputeModel m(s.model, s.nodes[0], s.cost);
  const core::Roofline& r = m.roofline();
  // Prefill (MHA form): 2 H (192 + 128) per layer; decode (absorbed): 2 H (2 x 512 + 64).
  EXPECT_DOUBLE_EQ(r.attention_flops_per_pair, 2.0 * 128 * 320 * 61);
  EXPECT_DOUBLE_EQ(r.attention_flops_per_pair + r.decode_extra_flops_per_pair, 2.0 * 128 * 1088 * 61);
  EXPECT_DOUBLE_EQ(r.kv_bytes_per_token, 70'272);
  // Every one of the 8 attention replicas reads its own non-expert weights.
  EXPECT_DOUBLE_EQ(r.static_bytes, 8.0 * static_cast<double>(s.model.weight_bytes() - s.model.routed_expert_bytes()));
  // W8A8 on Hopper: the quantized matmuls at twice the bf16 rate.
  const double bf16 = static_cast<double>(s.model.num_params() - s.model.params().routed_experts +
                                          s.model.params().routed_experts / 32 - s.model.active_quantized_params());
  EXPECT_NEAR(r.matmul_flops_per_token,
              2.0 * (bf16 + static_cast<double>(s.model.active_quantized_params()) * 989.4 / 1979), 1.0);
}

TEST(CostModelFamilies, ExpertParallelAllToAllOnTheInterconnect) {
  nlohmann::json node = {{"gpu", "H200"}, {"role", "colocated"}, {"data_parallel_attention", 8}, {"expert_parallel", 8},
                         {"interconnect", "IB-400G"}};
  const core::Scenario added = scenario("deepseek-v3", node);
  const core::Scenario hidden = scenario("deepseek-v3", node, {{"ep_overlap", true}});
  const ComputeModel added_model(added.model, added.nodes[0], added.cost);
  const ComputeModel hidden_model(hidden.model, hidden.nodes[0], hidden.cost);
  const core::Roofline& r = added_model.roofline();
  // 58 MoE layers x 8 experts x 7168 x (1 byte FP8 dispatch + 2 bytes bf16 combine) x 7/8 remote.
  EXPECT_DOUBLE_EQ(r.a2a_bytes_per_token, 58.0 * 8 * 7168 * 3 * 7 / 8);
  EXPECT_DOUBLE_EQ(r.a2a_bytes_per_s, 8 * 50e9);
  const double t = r.seconds(4096, 4096.0 * 4097 / 2, 0, 4096);
  const double a2a = 4096 * r.a2a_bytes_per_token / r.a2a_bytes_per_s + 2 * 58 * 8e-6;
  const core::Roofline& h = hidden_model.roofline();
  EXPECT_NEAR(t - h.seconds(4096, 4096.0 * 4097 / 2, 0, 4096), std::min(a2a, t - a2a), 1e-9);
}

TEST(CostModelFamilies, WindowedLayersStopAtTheirWindow) {
  const core::Scenario s = scenario("gpt-oss-120b", {{"gpu", "H100-SXM"}, {"role", "colocated"}},
                                    {{"memory_efficiency", 0.5}});
  const ComputeModel m(s.model, s.nodes[0], s.cost);
  const double bw = s.nodes[0].gpu.hbm_bytes_per_s * 0.5;
  std::vector<core::DecodeItem> items;
  const core::Iteration it = decode_batch(items, 4, 20'000);
  const core::Roofline& r = m.roofline();
  // 18 full layers read all 20,000 tokens, 18 windowed ones 128; each of the 4 writes one token.
  const double kv = 4.0 * (18 * 20'000 + 18 * 128) * 2048 + 4.0 * 36 * 2048;
  const double bytes = r.static_bytes + r.expert_bytes * r.experts_touched(4) + kv;
  EXPECT_NEAR(m.iteration_time(it).seconds(), bytes / bw, 1e-9);
  // A prefill chunk after a long context: windowed layers attend 128 keys per token.
  EXPECT_DOUBLE_EQ(r.pairs_beyond_window(10'000, 100), 100.0 * 10'000 + 5050 - 100.0 * 128);
  EXPECT_DOUBLE_EQ(r.pairs_beyond_window(0, 100), 0);
  EXPECT_DOUBLE_EQ(r.pairs_beyond_window(100, 100), 100.0 * 100 + 5050 - (28 * 100 + 28 * 29 / 2 + 72.0 * 128));
}

// As tests/sim/cost_estimate_test.cc, for the families (no windows: the estimator takes a batch's
// context as spread evenly, the simulator per request).
TEST(CostModelFamilies, EstimatorMatchesTheSimulator) {
  for (const auto& [model, node] :
       {std::pair{"qwen3-30b-a3b", nlohmann::json{{"gpu", "H100-SXM"}, {"role", "colocated"}}},
        std::pair{"deepseek-v3", nlohmann::json{{"gpu", "H200"}, {"role", "colocated"}, {"data_parallel_attention", 8},
                                                {"expert_parallel", 8}}},
        std::pair{"mixtral-8x7b", nlohmann::json{{"gpu", "A100-80G"}, {"role", "colocated"}, {"tensor_parallel", 2}}}}) {
    const core::Scenario s = scenario(model, node);
    const core::CostEstimator est(s);
    const ComputeModel sim(s.model, s.nodes[0], s.cost);
    const core::NodeId id{0};
    for (const auto& [tokens, cached] : {std::pair<int64_t, int64_t>{1, 0}, {1000, 0}, {3000, 5000}}) {
      std::vector<core::PrefillItem> items = {core::PrefillItem{core::RequestId{0}, tokens, cached, {}}};
      core::Iteration it;
      it.prefill = items;
      it.num_prefill_tokens = tokens;
      EXPECT_EQ(est.prefill(id, tokens, cached).ns(), sim.iteration_time(it).ns()) << model << " " << tokens;
    }
    for (const auto& [batch, context] : {std::pair<int64_t, int64_t>{1, 100}, {64, 200000}}) {
      std::vector<core::DecodeItem> items;
      const core::Iteration it = decode_batch(items, batch, context / batch);
      EXPECT_EQ(est.decode_step(id, batch, it.decode_context_tokens).ns(), sim.iteration_time(it).ns()) << model;
    }
  }
}

}  // namespace
}  // namespace flowkv::sim
