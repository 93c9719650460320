// Policy profiles: what a baseline implies besides its router is applied to the scenario, only
// where the user did not pin it, recorded in the resolved scenario, and never applied twice.
#include <gtest/gtest.h>

#include "core/base/error.h"
#include "core/sched/load_scenario.h"
#include "core/sched/policy_profile.h"

namespace flowkv::core {
namespace {

using nlohmann::json;

json base() {
  return json::parse(R"({
    "name": "p",
    "cluster": {"nodes": [{"gpu": "H100-SXM", "count": 2, "role": "prefill"},
                          {"gpu": "H100-SXM", "count": 2, "role": "decode"}]},
    "model": "llama-3.1-8b",
    "kv": {"layout": "contiguous", "allocator": "segment", "transfer": "merged"},
    "workload": {"generator": {"preset": "fixed-1k", "requests": 10}},
    "policies": {"global": "round-robin", "role": {"name": "flowkv", "high": 0.9}}
  })");
}

Scenario load(json j, const ScenarioOverrides& o) {
  apply_overrides(j, o);
  return parse_scenario(j, "test", FLOWKV_SOURCE_DIR);
}

TEST(PolicyProfile, VllmDisaggImpliesPagedBlockwiseStatic) {
  ScenarioOverrides o;
  o.policy = "vllm-disagg";
  const Scenario s = load(base(), o);
  EXPECT_EQ(s.layout, LayoutKind::kPagedPerLayer);
  EXPECT_EQ(s.allocator, AllocatorKind::kFreeList);
  EXPECT_EQ(s.transfer, TransferMode::kPerBlock);
  EXPECT_EQ(s.role.name, "static");
  const auto& rec = s.resolved["policies"]["profile"];
  EXPECT_EQ(rec["policy"], "vllm-disagg");
  EXPECT_EQ(rec["set"]["kv.layout"], "paged");
  EXPECT_EQ(rec["set"]["policies.role"], "static");
}

TEST(PolicyProfile, SetPinsAPathAgainstTheProfile) {
  ScenarioOverrides o;
  o.policy = "vllm-disagg";
  o.sets = {"kv.transfer=per-layer"};
  const Scenario s = load(base(), o);
  EXPECT_EQ(s.transfer, TransferMode::kPerLayer);
  EXPECT_EQ(s.layout, LayoutKind::kPagedPerLayer);
  EXPECT_FALSE(s.resolved["policies"]["profile"]["set"].contains("kv.transfer"));
}

TEST(PolicyProfile, FalseTurnsItOffAndRoundRobinHasNone) {
  json j = base();
  j["policies"]["profile"] = false;
  ScenarioOverrides o;
  o.policy = "vllm-disagg";
  const Scenario off = load(j, o);
  EXPECT_EQ(off.layout, LayoutKind::kBlockContiguous);
  EXPECT_EQ(off.resolved["policies"]["profile"], false);
  const Scenario rr = load(base(), {});
  EXPECT_FALSE(rr.resolved["policies"].contains("profile"));
}

TEST(PolicyProfile, KeepsRoleParametersOfTheSamePolicyAndIsNotAppliedTwice) {
  ScenarioOverrides o;
  o.policy = "flowkv";
  json j = base();
  apply_overrides(j, o);
  EXPECT_EQ(j["policies"]["role"]["high"], 0.9);  // same role policy: parameters kept
  const json once = j;
  apply_overrides(j, {});  // a recorded profile is not applied again
  EXPECT_EQ(j, once);
  ScenarioOverrides other;  // another policy on the same (resolved) scenario gets its own profile
  other.policy = "vllm-disagg";
  apply_overrides(j, other);
  EXPECT_EQ(j["kv"]["layout"], "paged");
  EXPECT_EQ(j["policies"]["profile"]["policy"], "vllm-disagg");
}

TEST(PolicyProfile, ColocatedMakesEveryGroupColocated) {
  ScenarioOverrides o;
  o.policy = "colocated";
  const Scenario s = load(base(), o);
  ASSERT_EQ(s.nodes.size(), 4u);
  for (const NodeSpec& n : s.nodes) EXPECT_EQ(n.role, NodeRole::kColocated) << n.name;
}

TEST(PolicyProfile, ColocatedWithoutColocatedNodesIsAnInputError) {
  json j = base();
  j["policies"]["global"] = "colocated";
  j["policies"]["profile"] = false;
  try {
    load(j, {});
    FAIL() << "expected an input error";
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_NE(std::string(e.what()).find("policies.global"), std::string::npos) << e.what();
  }
}

TEST(PolicyProfile, BadProfileValueNamesThePath) {
  json j = base();
  j["policies"]["profile"] = 3;
  try {
    parse_scenario(j, "test", FLOWKV_SOURCE_DIR);
    FAIL() << "expected an input error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("policies.profile"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace flowkv::core
