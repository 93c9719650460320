// What the planner's source files share (sim/plan*.cc); not part of its interface.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/plan.h"
#include "sim/plan_search.h"
#include "traces/trace.h"

namespace flowkv::sim::plan_internal {

// One (policy, GPU and TP per role) of the grid. A colocated family uses only the decode-side
// fields (its nodes) and has one column (p = 1).
struct Family {
  std::string policy;
  bool colocated = false;
  GpuPrice gpu_p, gpu_d;
  int tp_p = 1, tp_d = 1;
  std::vector<std::vector<int>> index;  // [p][d] -> candidate id, -1 where the budget is exceeded
  std::optional<std::string> unfit;     // why this family's scenario does not load
};

// The grid: families in the order policies x GPU(P) x TP(P) x GPU(D) x TP(D) (colocated:
// policies x GPU x TP), each family's shapes by p then d; candidate ids in that order.
struct Grid {
  std::vector<Family> families;
  std::vector<Candidate> candidates;
};
Grid make_grid(const std::vector<std::string>& policies, const std::vector<bool>& colocated,
               const std::vector<GpuPrice>& gpus, const std::vector<int>& tps, int max_gpus);
FamilySearch make_search(const Family& f, const std::vector<Candidate>& candidates);
Shape shape_of(const Candidate& c);

// The scenario JSON of a shape: `base` (flags and --sets applied) with its cluster nodes and
// global policy replaced; the policy's profile is NOT applied (core::apply_overrides does it).
nlohmann::json candidate_json(const nlohmann::json& base, const Family& f, Shape s);

// Evaluations travel between ranks as JSON text.
std::string encode(const Evaluation& e);
Evaluation decode(const std::string& text);

// Fills status-dependent texts: reason and rejected_because.
void explain(Candidate& c, const std::vector<Candidate>& all, std::optional<size_t> best, double target,
             int64_t max_misses, double slo_ttft_s, double slo_tpot_s);

// The files of OUT (on rank 0).
void write_plan_files(const PlanSpec& spec, const PlanResult& result, const std::filesystem::path& out);

}  // namespace flowkv::sim::plan_internal
