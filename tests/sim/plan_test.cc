// The planner end to end in one process (sim/plan.h) and the early stop it relies on
// (ControllerOptions::stop_after_slo_misses). Invariants protected:
//   - a run stops early only when more requests are certain to miss the SLO than allowed, and
//     at the end of a full run the controller's tally of misses is exactly the metrics' count;
//   - on a small space the pruned search (with early stops) picks the same best candidate as
//     the exhaustive grid, every candidate it pruned as dominated is rejected by the grid, and
//     every candidate cheaper than the best is rejected with a reason;
//   - the files do not depend on the number of threads.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "core/sched/load_scenario.h"
#include "sim/plan.h"
#include "sim/run.h"
#include "tests/scratch.h"

namespace {

namespace fs = std::filesystem;
using flowkv::testing::read_file;
using flowkv::testing::TempDir;
using namespace flowkv;

// Long prompts at 12 req/s on Llama-3.1-8B: one H100 prefill node is not enough.
const char* const kScenario = R"({
  "name": "plan-small",
  "cluster": {"nodes": [{"gpu": "H100-SXM", "count": 1, "role": "prefill"},
                        {"gpu": "H100-SXM", "count": 1, "role": "decode"}], "link": "NVLink4"},
  "model": "llama-3.1-8b",
  "workload": {"generator": {"arrival": {"process": "poisson", "rate": 12}, "requests": 240,
               "input": {"dist": "lognormal", "mean": 5000, "std": 1500, "min": 100, "max": 12000},
               "output": {"dist": "lognormal", "mean": 120, "std": 60, "min": 1, "max": 600}}},
  "policies": {"global": "round-robin"},
  "slo": {"ttft_s": 1.5, "tpot_s": 0.05},
  "seed": 5
})";

int64_t good_of(const sim::SimResult& r) {
  return std::llround(r.metrics.slo_attainment * static_cast<double>(r.metrics.completed));
}

TEST(EarlyStop, StopsOnlyWhenTheTargetIsOutOfReachAndCountsExactly) {
  TempDir tmp;
  const fs::path file = tmp.write("s.json", kScenario);
  core::ScenarioOverrides o;
  o.prefill_nodes = 1;
  const core::Scenario sc = core::load_scenario(file, o);
  const traces::Trace trace = sim::load_scenario_trace(sc);
  const int64_t total = static_cast<int64_t>(trace.requests.size());

  sim::SimOptions full;
  full.stop_after_slo_misses = std::numeric_limits<int64_t>::max();  // tally, never stop
  const sim::SimResult r = sim::simulate(sc, trace, full);
  ASSERT_FALSE(r.totals.stopped_early);
  const int64_t misses = total - good_of(r);
  EXPECT_EQ(r.totals.slo.known_misses(), misses);
  ASSERT_GT(misses, 20) << "the scenario should be overloaded with one prefill node";

  sim::SimOptions stop;
  stop.stop_after_slo_misses = misses / 2;
  const sim::SimResult s = sim::simulate(sc, trace, stop);
  EXPECT_TRUE(s.totals.stopped_early);
  EXPECT_GT(s.totals.slo.known_misses(), misses / 2);
  EXPECT_LE(s.totals.slo.known_misses(), misses);
  EXPECT_LT(s.totals.arrived, total) << "stopping at half the misses should leave arrivals unplayed";

  sim::SimOptions never;
  never.stop_after_slo_misses = misses;  // exactly reachable: must run to the end
  const sim::SimResult n = sim::simulate(sc, trace, never);
  EXPECT_FALSE(n.totals.stopped_early);
  EXPECT_EQ(n.summary.dump(), r.summary.dump()) << "tallying must not change the run";
}

sim::PlanSpec small_spec(const fs::path& scenario, const fs::path& out, bool exhaustive, int jobs) {
  sim::PlanSpec spec;
  spec.scenario = scenario;
  spec.target = 0.9;
  spec.gpus = sim::parse_gpu_prices("H100-SXM:2.99,A100-80G:1.79", "--gpus");
  spec.max_gpus = 6;
  spec.policies = {"round-robin", "colocated"};
  spec.tensor_parallel = {1};
  spec.exhaustive = exhaustive;
  spec.jobs = jobs;
  spec.out = out;
  return spec;
}

TEST(Plan, PrunedSearchFindsTheBestOfTheFullGrid) {
  TempDir tmp;
  const fs::path file = tmp.write("s.json", kScenario);
  sim::LocalRanks ranks;
  const sim::PlanResult full = sim::run_plan(small_spec(file, tmp.path() / "full", true, 2), ranks);
  const sim::PlanResult pruned = sim::run_plan(small_spec(file, tmp.path() / "pruned", false, 2), ranks);
  ASSERT_EQ(full.candidates.size(), pruned.candidates.size());
  ASSERT_TRUE(full.best.has_value());
  ASSERT_TRUE(pruned.best.has_value());
  EXPECT_EQ(*pruned.best, *full.best);
  EXPECT_LT(pruned.simulated, full.simulated);
  EXPECT_GT(pruned.stopped_early, 0u);
  EXPECT_EQ(full.stopped_early, 0u);
  const sim::Candidate& best = pruned.candidates[*pruned.best];
  for (const sim::Candidate& c : pruned.candidates) {
    const sim::Candidate& ref = full.candidates[c.id];
    if (c.status == sim::CandidateStatus::kDominated) {
      EXPECT_EQ(ref.status, sim::CandidateStatus::kRejected) << "#" << c.id << " " << sim::shape_text(c);
    }
    if (c.cost_micros < best.cost_micros) {
      EXPECT_FALSE(c.reason.empty()) << "#" << c.id;
      EXPECT_FALSE(c.rejected_because.empty()) << "#" << c.id;
      EXPECT_NE(ref.status, sim::CandidateStatus::kFeasible) << "#" << c.id;
    }
    if (c.status == sim::CandidateStatus::kRejected || c.status == sim::CandidateStatus::kFeasible) {
      EXPECT_EQ(c.eval->good, ref.eval->good) << "#" << c.id << ": a simulation is a simulation";
    }
  }
  // The files: plan.json's best is a scenario, and best/ is its run.
  const nlohmann::json plan = nlohmann::json::parse(read_file(tmp.path() / "pruned" / "plan.json"));
  EXPECT_EQ(plan["best"]["id"].get<size_t>(), *pruned.best);
  EXPECT_TRUE(plan["best"]["scenario"].is_object());
  EXPECT_EQ(plan["candidates"].size(), pruned.candidates.size());
  EXPECT_TRUE(fs::exists(tmp.path() / "pruned" / "best" / "summary.json"));
  EXPECT_TRUE(fs::exists(tmp.path() / "pruned" / "best-scenario.json"));
  std::ifstream csv(tmp.path() / "pruned" / "candidates.csv");
  size_t rows = 0;
  for (std::string line; std::getline(csv, line);) ++rows;
  EXPECT_EQ(rows, pruned.candidates.size() + 1);
}

TEST(Plan, FilesDoNotDependOnThreads) {
  TempDir tmp;
  const fs::path file = tmp.write("s.json", kScenario);
  sim::LocalRanks ranks;
  (void)sim::run_plan(small_spec(file, tmp.path() / "a", false, 1), ranks);
  (void)sim::run_plan(small_spec(file, tmp.path() / "b", false, 2), ranks);
  for (const char* f : {"plan.json", "candidates.csv", "best-scenario.json", "best/summary.json", "best/requests.csv"}) {
    EXPECT_EQ(read_file(tmp.path() / "a" / f), read_file(tmp.path() / "b" / f)) << f;
  }
}

}  // namespace
