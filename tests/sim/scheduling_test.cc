// FlowKV's scheduling in simulation: every global policy routes only to eligible nodes and is
// deterministic; the flowkv role controllers flip under imbalance, flip back, and respect the
// minimum pool size; elastic nodes join under overload (and are not routed to before) and leave
// when it passes; prefix-cache hits skip prefill work and are counted; heterogeneous pools run
// end to end; and, the purpose of all this, flowkv beats round-robin and vllm-disagg on an
// imbalanced load.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "core/control/controller.h"
#include "core/kv/pool_history.h"
#include "core/kv/prefix_cache.h"
#include "core/sched/global_scheduler.h"
#include "core/sched/load_scenario.h"
#include "sim/run.h"

namespace flowkv::sim {
namespace {

using nlohmann::json;
using core::NodeRole;

core::Scenario load(json j, const core::ScenarioOverrides& o = {}) {
  core::apply_overrides(j, o);
  return core::parse_scenario(j, "test", FLOWKV_SOURCE_DIR);
}

SimResult run(const core::Scenario& s, core::ControllerObserver* observer = nullptr) {
  SimOptions o;
  o.observer = observer;
  return simulate(s, load_scenario_trace(s), o);
}

// Every change of a node's role or routability, as submitted and as completed.
struct FlipLog final : core::ControllerObserver {
  struct Flip {
    core::NodeId node{};
    NodeRole role = NodeRole::kPrefill;
    bool routable = true;
    core::Time submitted, done;
  };
  std::vector<Flip> flips;
  std::map<uint64_t, size_t> open;
  void on_submit(const core::Work& w, core::Time now) override {
    if (const auto* f = std::get_if<core::RoleFlip>(&w)) {
      open[core::to_int(f->id)] = flips.size();
      flips.push_back(Flip{f->node, f->new_role, f->routable, now, core::Time::max()});
    }
  }
  void on_completion(const core::Completion& c) override {
    auto it = open.find(core::to_int(c.work));
    if (it != open.end() && c.kind == core::Completion::Kind::kWorkDone) {
      flips[it->second].done = c.time;
      open.erase(it);
    }
  }
};

// ---- every global policy: eligible nodes only, deterministic ----

json mixed_cluster() {
  // A standby node, a decode pool of two GPU types and a colocated node: eligibility varies.
  return json::parse(R"({
    "name": "mixed",
    "cluster": {"nodes": [{"gpu": "H100-SXM", "count": 2, "role": "prefill"},
                          {"gpu": "H100-SXM", "count": 1, "role": "prefill", "standby": true},
                          {"gpu": "H20", "count": 1, "role": "decode"},
                          {"gpu": "L20", "count": 1, "role": "decode"},
                          {"gpu": "H100-SXM", "count": 1, "role": "colocated"}]},
    "model": "llama-3.1-8b",
    "kv": {"prefix_cache": 64},
    "workload": {"generator": {"arrival": {"process": "poisson", "rate": 30}, "requests": 300,
                               "input": {"dist": "lognormal", "mean": 3000, "std": 2000, "min": 16, "max": 12000},
                               "output": {"dist": "lognormal", "mean": 120, "std": 80, "min": 1, "max": 600},
                               "shared_prefix": {"tokens": 2048, "fraction": 0.5}}},
    "seed": 11
  })");
}

TEST(GlobalPolicies, RouteOnlyToEligibleNodesAndAreDeterministic) {
  for (const auto& [name, summary] : core::global_scheduler_registry().list()) {
    core::ScenarioOverrides o;
    o.policy = name;
    json j = mixed_cluster();
    j["policies"] = {{"profile", false}};
    if (name == "colocated") continue;  // needs an all-colocated cluster: below
    const core::Scenario s = load(j, o);
    // The controller refuses (internal error) any pick that is not eligible; the invariant
    // checker runs after every event.
    SimOptions opts;
    opts.check_invariants = true;
    const traces::Trace trace = load_scenario_trace(s);
    const SimResult a = simulate(s, trace, opts);
    const SimResult b = simulate(s, trace);
    EXPECT_EQ(a.metrics.completed, 300) << name;
    EXPECT_EQ(a.summary.dump(), b.summary.dump()) << name;
    for (const core::RequestRecord& r : a.records) {
      ASSERT_NE(s.nodes[r.prefill_node].name, "P2") << name << ": routed to a standby node";
      ASSERT_NE(s.nodes[r.decode_node].name, "P2") << name;
      ASSERT_NE(s.nodes[r.decode_node].role, NodeRole::kPrefill) << name << ": decode on a prefill node";
      ASSERT_NE(s.nodes[r.prefill_node].role, NodeRole::kDecode) << name << ": prefill on a decode node";
    }
  }
}

TEST(GlobalPolicies, PicksAreEligibleOnRandomSnapshots) {
  // Direct: random loads and random eligibility, every policy, 2000 decisions each.
  const core::Scenario s = load(mixed_cluster());
  std::vector<std::unique_ptr<core::BlockAllocator>> pools;
  std::vector<std::unique_ptr<core::PrefixCache>> caches;
  for (size_t i = 0; i < s.nodes.size(); ++i) {
    pools.push_back(core::make_allocator(core::AllocatorKind::kSegment, 1024));
    caches.push_back(std::make_unique<core::PrefixCache>(*pools.back(), 16, 8));
  }
  for (const auto& [name, summary] : core::global_scheduler_registry().list()) {
    if (name == "colocated") continue;
    core::Scenario sc = s;
    sc.global.name = name;
    sc.global.params = json::object();
    auto policy = core::make_global_scheduler(sc);
    std::mt19937_64 rng(7);
    std::vector<core::NodeLoad> loads(sc.nodes.size());
    for (int trial = 0; trial < 2000; ++trial) {
      bool any_p = false, any_d = false;
      for (size_t i = 0; i < loads.size(); ++i) {
        core::NodeLoad& l = loads[i];
        l = core::NodeLoad{};
        l.id = core::NodeId{static_cast<uint32_t>(i)};
        l.spec = &sc.nodes[i];
        l.role = sc.nodes[i].role;
        l.kv_total_blocks = sc.nodes[i].layout.geometry.num_blocks;
        l.kv_free_blocks = static_cast<int64_t>(core::uniform_below(rng, static_cast<uint64_t>(l.kv_total_blocks) + 1));
        l.kv_largest_free_run = l.kv_free_blocks;
        l.kv_usage = 1.0 - static_cast<double>(l.kv_free_blocks) / static_cast<double>(l.kv_total_blocks);
        l.queued_prefill_tokens = static_cast<int64_t>(core::uniform_below(rng, 100000));
        l.queued_prefill_requests = static_cast<int32_t>(core::uniform_below(rng, 20));
        l.running_decode = static_cast<int32_t>(core::uniform_below(rng, 200));
        l.assigned_decode_tokens = static_cast<int64_t>(core::uniform_below(rng, 50000));
        l.prefix_cache = caches[i].get();
        l.eligible_prefill = l.role != NodeRole::kDecode && core::uniform_below(rng, 3) != 0;
        l.eligible_decode = l.role != NodeRole::kPrefill && core::uniform_below(rng, 3) != 0;
        any_p = any_p || l.eligible_prefill;
        any_d = any_d || l.eligible_decode;
      }
      if (!any_p || !any_d) continue;  // the controller never asks then
      core::LoadSnapshot snap;
      snap.now = core::Time::from_nanos(trial * 1'000'000);
      snap.nodes = loads;
      snap.link = sc.link;
      snap.request_blocks = 100;
      core::Request r;
      r.prompt_tokens = 1 + static_cast<int64_t>(core::uniform_below(rng, 8000));
      r.output_tokens = 1 + static_cast<int64_t>(core::uniform_below(rng, 500));
      const core::RouteDecision d = policy->route(r, snap);
      if (d.rejected) continue;
      ASSERT_TRUE(loads[core::to_int(d.prefill)].eligible_prefill) << name << " trial " << trial;
      ASSERT_TRUE(loads[core::to_int(d.decode)].eligible_decode) << name << " trial " << trial;
    }
  }
}

TEST(GlobalPolicies, ColocatedKeepsEveryRequestOnOneNode) {
  core::ScenarioOverrides o;
  o.policy = "colocated";
  const core::Scenario s = load(mixed_cluster(), o);
  const SimResult r = run(s);
  EXPECT_EQ(r.metrics.completed, 300);
  EXPECT_EQ(r.metrics.transfer_calls_total, 0);
  for (const core::RequestRecord& rec : r.records) {
    EXPECT_EQ(rec.prefill_node, rec.decode_node);
    EXPECT_NE(s.nodes[rec.prefill_node].name, "C2") << "standby (P2 became the standby C2)";
  }
}

// ---- role flips ----

json imbalanced() { return core::read_scenario_json(core::find_scenario_file("paper/imbalance-synthetic.json")); }

TEST(FlowKvRoles, FlipsUnderImbalanceAndFlipsBack) {
  core::ScenarioOverrides o;
  o.policy = "flowkv";
  const core::Scenario s = load(imbalanced(), o);
  ASSERT_EQ(s.role.name, "flowkv");
  FlipLog log;
  const SimResult r = run(s, &log);
  EXPECT_GE(r.metrics.role_flips, 2);
  EXPECT_EQ(r.summary["role_flips"], r.metrics.role_flips);
  // Decode nodes were lent to prefill (the saturated role) ...
  bool lent = false;
  for (const FlipLog::Flip& f : log.flips) {
    lent = lent || (f.role == NodeRole::kPrefill && s.nodes[core::to_int(f.node)].role == NodeRole::kDecode);
  }
  EXPECT_TRUE(lent);
  // ... and came home once the burst was over.
  for (const core::NodeMetrics& n : r.metrics.nodes) EXPECT_EQ(n.final_role, n.initial_role) << n.name;
}

TEST(FlowKvRoles, NeverBelowTheMinimumPool) {
  for (const char* policy : {"flowkv", "flowkv-plus"}) {
    core::ScenarioOverrides o;
    o.policy = policy;
    json j = imbalanced();
    j["cluster"]["nodes"][1]["count"] = 3;  // 2P + 3D; min_pool 2 leaves one D to lend
    o.sets = {std::string("policies.role={\"name\": \"") + policy + "\", \"min_pool\": 2}"};
    const core::Scenario s = load(j, o);
    FlipLog log;
    const SimResult r = run(s, &log);
    std::map<uint32_t, NodeRole> role;
    for (size_t i = 0; i < s.nodes.size(); ++i) role[static_cast<uint32_t>(i)] = s.nodes[i].role;
    EXPECT_GE(r.metrics.role_flips, 1) << policy;
    for (const FlipLog::Flip& f : log.flips) {
      role[core::to_int(f.node)] = f.role;  // as requested: the pool it leaves counts without it
      int decode = 0, prefill = 0;
      for (const auto& [id, rl] : role) (rl == NodeRole::kDecode ? decode : prefill) += 1;
      EXPECT_GE(decode, 2) << policy;
      EXPECT_GE(prefill, 2) << policy;
    }
  }
}

TEST(FlowKvRoles, OurControllerFlipsLessAndWinsOnTheImbalancedLoad) {
  core::ScenarioOverrides a, b;
  a.policy = "flowkv";
  b.policy = "flowkv-plus";
  const SimResult fk = run(load(imbalanced(), a));
  const SimResult plus = run(load(imbalanced(), b));
  EXPECT_LT(plus.metrics.e2e.mean, fk.metrics.e2e.mean);
  EXPECT_LT(plus.metrics.ttft.mean, fk.metrics.ttft.mean);
  EXPECT_LE(plus.metrics.role_flips, fk.metrics.role_flips);
}

// ---- elastic pools ----

json overloaded() {
  return json::parse(R"({
    "name": "overload",
    "cluster": {"nodes": [{"gpu": "H100-SXM", "count": 1, "role": "prefill"},
                          {"gpu": "H100-SXM", "count": 1, "role": "decode"},
                          {"gpu": "H100-SXM", "count": 1, "role": "prefill", "standby": true},
                          {"gpu": "H100-SXM", "count": 1, "role": "decode", "standby": true}]},
    "model": "llama-3.1-8b",
    "workload": {"generator": {"arrival": {"process": "poisson", "rate": 11}, "requests": 500,
                               "input": {"dist": "fixed", "value": 4000}, "output": {"dist": "fixed", "value": 128}}},
    "policies": {"global": "flowkv", "role": {"name": "flowkv", "leave_cycles": 3}},
    "cost_model": {"node_startup_s": 2},
    "seed": 4
  })");
}

TEST(ElasticPools, StandbyNodesJoinUnderOverloadAndAreNotRoutedToBefore) {
  const core::Scenario s = load(overloaded());
  FlipLog log;
  const SimResult r = run(s, &log);
  EXPECT_EQ(r.metrics.completed, 500);
  EXPECT_GE(r.metrics.elastic_joins, 1);
  EXPECT_GE(r.metrics.elastic_leaves, 1);  // the burst ends: the joined node goes back
  EXPECT_EQ(r.summary["elastic"]["joins"], r.metrics.elastic_joins);
  // When did each standby node become routable (first join completed)?
  std::map<uint32_t, core::Time> joined;
  for (const FlipLog::Flip& f : log.flips) {
    if (f.routable && s.nodes[core::to_int(f.node)].standby && !joined.count(core::to_int(f.node))) {
      joined[core::to_int(f.node)] = f.done;
      EXPECT_GE((f.done - f.submitted).seconds(), 2.0) << "the start-up cost is paid";
    }
  }
  ASSERT_FALSE(joined.empty());
  for (const core::RequestRecord& rec : r.records) {
    for (const uint16_t node : {rec.prefill_node, rec.decode_node}) {
      if (!s.nodes[node].standby) continue;
      ASSERT_TRUE(joined.count(node)) << "routed to a standby node that never joined";
      EXPECT_GE(rec.queued.value(), joined[node]) << "routed to node " << node << " before it joined";
    }
  }
  // With static roles the standby nodes stay idle, and the run is slower.
  core::ScenarioOverrides o;
  o.sets = {"policies.role=static"};
  const SimResult fixed = run(load(overloaded(), o));
  EXPECT_EQ(fixed.metrics.elastic_joins, 0);
  for (const core::NodeMetrics& n : fixed.metrics.nodes) {
    if (n.name == "P1" || n.name == "D1") {
      EXPECT_EQ(n.iterations, 0) << n.name;
    }
  }
  EXPECT_LT(r.metrics.e2e.mean, fixed.metrics.e2e.mean);
}

// ---- prefix cache ----

TEST(PrefixCache, HitsSkipPrefillWorkAndAreCounted) {
  json j = json::parse(R"({
    "name": "prefix",
    "cluster": {"nodes": [{"gpu": "H100-SXM", "count": 2, "role": "prefill"},
                          {"gpu": "H100-SXM", "count": 1, "role": "decode"}]},
    "model": "llama-3.1-8b",
    "workload": {"generator": {"arrival": {"process": "poisson", "rate": 4}, "requests": 200,
                               "input": {"dist": "fixed", "value": 500}, "output": {"dist": "fixed", "value": 16},
                               "shared_prefix": {"tokens": 4096, "fraction": 1.0}}},
    "seed": 2
  })");
  auto prefill_tokens = [](const SimResult& r) {
    int64_t t = 0;
    for (const core::NodeMetrics& n : r.metrics.nodes) t += n.prefill_tokens;
    return t;
  };
  const int64_t prompts = 200 * (4096 + 500);
  const SimResult off = run(load(j));
  EXPECT_EQ(prefill_tokens(off), prompts);
  EXPECT_EQ(off.summary["prefix_cache"]["enabled"], false);
  EXPECT_EQ(off.metrics.prefix_hit_tokens, 0);
  for (const char* policy : {"round-robin", "flowkv"}) {
    core::ScenarioOverrides o;
    o.policy = policy;
    o.sets = {"kv.prefix_cache=true"};
    const SimResult on = run(load(j, o));
    EXPECT_EQ(on.metrics.completed, 200) << policy;
    EXPECT_EQ(on.metrics.prefix_prompt_tokens, prompts) << policy;
    EXPECT_GT(on.metrics.prefix_hit_tokens, 0) << policy;
    // Exactly the hit tokens were not computed.
    EXPECT_EQ(prefill_tokens(on), prompts - on.metrics.prefix_hit_tokens) << policy;
    // 8 shared blocks, each computed once per prefill node at most, hit afterwards.
    EXPECT_GT(on.summary["prefix_cache"]["hit_rate"].get<double>(), 0.8) << policy;
    EXPECT_LT(on.metrics.ttft.mean, off.metrics.ttft.mean) << policy;
  }
}

// ---- heterogeneous GPUs ----

TEST(Heterogeneous, L20PrefillWithH20DecodeBeatsTheReverse) {
  const json j = core::read_scenario_json(core::find_scenario_file("paper/hetero-l20p-h20d.json"));
  core::ScenarioOverrides o;
  o.sets = {"workload.generator.requests=120"};
  const core::Scenario forward = load(j, o);
  core::ScenarioOverrides rev = o;
  rev.sets.push_back("cluster.nodes[0].gpu=H20");
  rev.sets.push_back("cluster.nodes[1].gpu=L20");
  const core::Scenario reverse = load(j, rev);
  ASSERT_EQ(forward.nodes[0].gpu.name, "L20");
  ASSERT_EQ(reverse.nodes[0].gpu.name, "H20");
  const SimResult a = run(forward), b = run(reverse);
  EXPECT_EQ(a.metrics.completed, 120);
  EXPECT_EQ(b.metrics.completed, 120);
  EXPECT_NE(a.metrics.nodes.front().kv_blocks, a.metrics.nodes.back().kv_blocks);  // pools differ in size
  EXPECT_LT(a.metrics.e2e.mean, b.metrics.e2e.mean);
}

// ---- the scheduler's purpose ----

// Regression: on an imbalanced load FlowKV's scheduler must beat fixed-role round-robin and the
// vLLM-disagg proxy on mean E2E and mean TTFT; that is what the role controller is for.
TEST(SchedulingPurpose, FlowKvBeatsRoundRobinAndVllmDisaggOnImbalance) {
  std::map<std::string, core::RunMetrics> m;
  for (const char* policy : {"round-robin", "vllm-disagg", "flowkv"}) {
    core::ScenarioOverrides o;
    o.policy = policy;
    m[policy] = run(load(imbalanced(), o)).metrics;
    EXPECT_EQ(m[policy].completed, 600) << policy;
  }
  for (const char* base : {"round-robin", "vllm-disagg"}) {
    EXPECT_LT(m["flowkv"].e2e.mean, 0.7 * m[base].e2e.mean) << base;
    EXPECT_LT(m["flowkv"].ttft.mean, 0.7 * m[base].ttft.mean) << base;
  }
  EXPECT_GT(m["flowkv"].role_flips, 0);
}

}  // namespace
}  // namespace flowkv::sim
