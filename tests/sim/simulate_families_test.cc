// End-to-end runs of the model families with the controller's invariants checked after every
// event: a windowed model's requests hold and move only the blocks of the KV they keep
// (KvGeometry::blocks_for_tokens), under pools small enough to preempt; an MLA model moves its
// latent; nothing leaks and every request completes.
#include <gtest/gtest.h>

#include "core/sched/load_scenario.h"
#include "sim/run.h"

namespace flowkv::sim {
namespace {

using nlohmann::json;

json scenario_json(const char* model, const char* gpu) {
  json j = json::parse(R"({
    "name": "families",
    "cluster": {"nodes": [{"count": 1, "role": "prefill"}, {"count": 1, "role": "decode"}]},
    "kv": {"block_size": 16},
    "workload": {"generator": {"arrival": {"process": "poisson", "rate": 20}, "requests": 300,
                               "input": {"dist": "uniform", "min": 8, "max": 6000},
                               "output": {"dist": "uniform", "min": 1, "max": 400}}},
    "seed": 3
  })");
  j["model"] = model;
  for (json& n : j["cluster"]["nodes"]) n["gpu"] = gpu;
  return j;
}

TEST(SimulateFamilies, WindowedRequestsHoldAndMoveOnlyTheKvTheyKeep) {
  json j = scenario_json("gpt-oss-120b", "H200");
  j["kv"]["num_blocks"] = 3000;  // 48,000 tokens of full-layer KV: preemptions
  const core::Scenario s = core::parse_scenario(j, "test", FLOWKV_SOURCE_DIR);
  SimOptions o;
  o.check_invariants = true;
  const SimResult r = simulate(s, load_scenario_trace(s), o);
  EXPECT_EQ(r.metrics.completed, 300);
  EXPECT_GT(r.metrics.preemptions, 0);
  const int64_t block_bytes = s.kv_shape.block_bytes();
  int64_t checked = 0;
  for (const core::RequestRecord& rec : r.records) {
    if (rec.retries > 0 || rec.preemptions > 0 || rec.transfer_bytes == 0) continue;
    EXPECT_EQ(rec.transfer_bytes, s.blocks_for_tokens(rec.prompt_tokens) * block_bytes) << rec.prompt_tokens;
    ++checked;
  }
  EXPECT_GT(checked, 100);
  // Long prompts move fewer blocks than their tokens fill: the windowed layers' share is capped.
  EXPECT_LT(s.blocks_for_tokens(6000), (6000 + 15) / 16);
}

TEST(SimulateFamilies, MlaMovesItsLatent) {
  json j = scenario_json("deepseek-v3", "H200");
  for (json& n : j["cluster"]["nodes"]) {
    n["data_parallel_attention"] = 8;
    n["expert_parallel"] = 8;
  }
  const core::Scenario s = core::parse_scenario(j, "test", FLOWKV_SOURCE_DIR);
  SimOptions o;
  o.check_invariants = true;
  const SimResult r = simulate(s, load_scenario_trace(s), o);
  EXPECT_EQ(r.metrics.completed, 300);
  for (const core::RequestRecord& rec : r.records) {
    if (rec.retries > 0 || rec.transfer_bytes == 0) continue;
    EXPECT_EQ(rec.transfer_bytes, (rec.prompt_tokens + 15) / 16 * 16 * 70'272);
  }
}

}  // namespace
}  // namespace flowkv::sim
