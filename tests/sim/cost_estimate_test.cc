// The policies' CostEstimator and the simulator's ComputeModel are two implementations of one
// roofline: a router must predict exactly what the simulator will charge. If either changes
// alone, this fails.
#include <gtest/gtest.h>

#include <vector>

#include "core/sched/cost_estimate.h"
#include "core/sched/load_scenario.h"
#include "sim/cost_model.h"

namespace flowkv::sim {
namespace {

core::Scenario scenario(const char* model, const char* gpu, int tp) {
  nlohmann::json j = {
      {"name", "est"},
      {"cluster", {{"nodes", {{{"gpu", gpu}, {"count", 1}, {"role", "prefill"}, {"tensor_parallel", tp}},
                              {{"gpu", "H20"}, {"count", 1}, {"role", "decode"}, {"tensor_parallel", tp}}}}}},
      {"model", model},
      {"workload", {{"generator", {{"preset", "fixed-1k"}, {"requests", 1}}}}},
      {"cost_model", {{"compute_efficiency", 0.5}, {"iteration_overhead_us", 900}}}};
  return core::parse_scenario(j, "test", FLOWKV_SOURCE_DIR);
}

TEST(CostEstimate, MatchesTheSimulatorsComputeModel) {
  for (const auto& [model, gpu, tp] : {std::tuple{"llama-3.1-8b", "L20", 1}, std::tuple{"llama-3.1-70b", "H100-SXM", 4}}) {
    const core::Scenario s = scenario(model, gpu, tp);
    const core::CostEstimator est(s);
    for (size_t node = 0; node < s.nodes.size(); ++node) {
      const ComputeModel sim(s.model, s.nodes[node], s.cost);
      const core::NodeId id{static_cast<uint32_t>(node)};
      for (const auto& [tokens, cached] : {std::pair<int64_t, int64_t>{1, 0}, {1000, 0}, {8000, 0}, {3000, 5000}}) {
        std::vector<core::PrefillItem> items = {core::PrefillItem{core::RequestId{0}, tokens, cached, {}}};
        core::Iteration it;
        it.prefill = items;
        it.num_prefill_tokens = tokens;
        EXPECT_EQ(est.prefill(id, tokens, cached).ns(), sim.iteration_time(it).ns()) << model << " " << tokens;
      }
      for (const auto& [batch, context] : {std::pair<int64_t, int64_t>{1, 100}, {64, 200000}, {256, 1000000}}) {
        std::vector<core::DecodeItem> items(static_cast<size_t>(batch), core::DecodeItem{core::RequestId{0}, 0, {}});
        core::Iteration it;
        it.decode = items;
        it.decode_context_tokens = context;
        EXPECT_EQ(est.decode_step(id, batch, context).ns(), sim.iteration_time(it).ns()) << model << " " << batch;
      }
    }
  }
}

TEST(CostEstimate, BacklogGrowsWithQueueAndLoadsAreRelativeToSlos) {
  const core::Scenario s = scenario("llama-3.1-8b", "H100-SXM", 1);
  const core::CostEstimator est(s);
  const core::NodeId p{0};
  EXPECT_EQ(est.backlog(p, 0, 0).ns(), 0);
  EXPECT_LT(est.backlog(p, 8000, 1), est.backlog(p, 16000, 2));
  // One queued prompt costs what its prefill costs (same roofline, one iteration).
  EXPECT_NEAR(est.backlog(p, 4000, 1).seconds(), est.prefill(p, 4000, 0).seconds(), 1e-3);
  core::NodeLoad n;
  n.id = p;
  n.queued_prefill_tokens = 64000;
  n.queued_prefill_requests = 8;
  EXPECT_NEAR(est.prefill_load(n), est.backlog(p, 64000, 8).seconds() / s.slo.ttft_s, 1e-12);
  core::NodeLoad d;
  d.id = core::NodeId{1};
  d.kv_total_blocks = 1000;
  d.kv_free_blocks = 100;
  d.kv_usage = 0.9;
  EXPECT_GE(est.decode_load(d), 0.9);
}

}  // namespace
}  // namespace flowkv::sim
