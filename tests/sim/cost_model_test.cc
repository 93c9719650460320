// The compute cost model is a roofline: prefill is compute-bound and scales with tokens (plus a
// quadratic attention term), decode is bandwidth-bound (weights + KV read), plus a fixed
// overhead. Checked against figures computed here from the specs, independently of the code.
#include <gtest/gtest.h>

#include <vector>

#include "core/sched/load_scenario.h"
#include "sim/cost_model.h"

namespace flowkv::sim {
namespace {

using core::Duration;

core::Scenario scenario(const char* extra_cost = "{}") {
  nlohmann::json j = nlohmann::json::parse(R"({
    "cluster": {"nodes": [{"gpu": "H100-SXM", "count": 1, "role": "colocated"}]},
    "model": "llama-3.1-8b", "workload": {"trace": "x.csv"}})");
  j["cost_model"] = nlohmann::json::parse(extra_cost);
  return core::parse_scenario(j, "test", ".");
}

TEST(ComputeModel, DecodeIsBandwidthBound) {
  const core::Scenario s = scenario(R"({"memory_efficiency": 0.5, "iteration_overhead_us": 1000})");
  const ComputeModel m(s.model, s.nodes[0], s.cost);
  std::vector<core::DecodeItem> items(8, core::DecodeItem{core::RequestId{0}, 1000, {}});
  core::Iteration it;
  it.decode = items;
  it.decode_context_tokens = 8000;
  const double bytes = static_cast<double>(s.model.weight_bytes()) +
                       static_cast<double>(s.model.kv_bytes_per_token()) * (8000 + 8);
  const double expected = 1e-3 + bytes / (s.nodes[0].gpu.hbm_bytes_per_s * 0.5);
  EXPECT_NEAR(m.iteration_time(it).seconds(), expected, 1e-8);
}

TEST(ComputeModel, PrefillIsComputeBoundWithQuadraticAttention) {
  const core::Scenario s = scenario(R"({"compute_efficiency": 0.5, "iteration_overhead_us": 0})");
  const ComputeModel m(s.model, s.nodes[0], s.cost);
  auto prefill = [&](int64_t tokens) {
    std::vector<core::PrefillItem> items{core::PrefillItem{core::RequestId{0}, tokens, 0, {}}};
    core::Iteration it;
    it.prefill = items;
    it.num_prefill_tokens = tokens;
    return m.iteration_time(it).seconds();
  };
  const double c = 8192;
  const double flops = 2.0 * static_cast<double>(s.model.num_params()) * c +
                       4.0 * s.model.num_layers * s.model.num_heads * s.model.head_dim * (c * (c + 1) / 2);
  EXPECT_NEAR(prefill(8192), flops / (s.nodes[0].gpu.bf16_flops * 0.5), 1e-8);
  // Superlinear in tokens (attention), but not by much at these lengths.
  EXPECT_GT(prefill(8192), 2 * prefill(4096));
  EXPECT_LT(prefill(8192), 2.5 * prefill(4096));
}

TEST(ComputeModel, ChunkAfterCachedContextCostsMoreThanTheSameChunkAlone) {
  const core::Scenario s = scenario();
  const ComputeModel m(s.model, s.nodes[0], s.cost);
  std::vector<core::PrefillItem> alone{core::PrefillItem{core::RequestId{0}, 2048, 0, {}}};
  std::vector<core::PrefillItem> later{core::PrefillItem{core::RequestId{0}, 2048, 6144, {}}};
  core::Iteration a, b;
  a.prefill = alone;
  a.num_prefill_tokens = 2048;
  b.prefill = later;
  b.num_prefill_tokens = 2048;
  EXPECT_GT(m.iteration_time(b), m.iteration_time(a));
}

TEST(ComputeModel, TensorParallelIsFasterButNotPerfectly) {
  nlohmann::json j = nlohmann::json::parse(R"({
    "cluster": {"nodes": [{"gpu": "H100-SXM", "count": 1, "role": "colocated"},
                          {"gpu": "H100-SXM", "count": 1, "role": "colocated", "tensor_parallel": 4}]},
    "model": "llama-3.1-8b", "workload": {"trace": "x.csv"},
    "cost_model": {"iteration_overhead_us": 0, "tp_efficiency": 0.9}})");
  const core::Scenario s = core::parse_scenario(j, "test", ".");
  const ComputeModel one(s.model, s.nodes[0], s.cost), four(s.model, s.nodes[1], s.cost);
  const double t1 = one.time_for(4096, 4096.0 * 4097 / 2, 0, 4096).seconds();
  const double t4 = four.time_for(4096, 4096.0 * 4097 / 2, 0, 4096).seconds();
  EXPECT_NEAR(t1 / t4, 4 * 0.9, 1e-6);  // durations are whole nanoseconds
  EXPECT_GT(s.nodes[1].layout.geometry.num_blocks, 4 * s.nodes[0].layout.geometry.num_blocks);
}

}  // namespace
}  // namespace flowkv::sim
