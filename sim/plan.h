// `flowkv plan`: the cheapest cluster that serves a scenario's workload within its SLOs,
// searched by full simulations of the real trace (docs/planning.md).
//
// The space: for every policy, GPU type and tensor-parallel degree per role, every node count
// whose GPUs fit max_gpus. A policy whose profile makes every node colocated (`colocated`) gets
// colocated shapes (C nodes); every other policy disaggregated ones (P prefill + D decode
// nodes). A family is one (policy, GPU and TP per role); its shapes differ in node counts only.
// A candidate costs sum(nodes x TP x price per GPU-hour) and is feasible when its SLO attainment
// -- requests meeting both SLOs over ALL requests of the trace (a failure is a miss) -- reaches
// the target.
//
// The search (sim/plan_search.h) walks each family's staircase of cheapest feasible shapes in
// waves: every family proposes one shape per wave; the shapes of a wave are simulated in
// parallel (threads, and MPI ranks through sim/ranks.h); the answers and the cheapest feasible
// cost so far then decide the next wave. Pruned, never simulated: shapes dominated by a
// rejected one of their family, and shapes costlier than the best. A simulation stops early once
// more requests are certain to miss the SLO than the target allows (core/control/controller.h,
// stop_after_slo_misses). `exhaustive` simulates the whole grid to the end instead (the
// reference the pruned search is tested against).
//
// Determinism: the waves, and so every file written, depend only on the inputs, never on the
// number of threads or ranks or on timing. Only rank 0 writes; every rank must call run_plan with
// the same spec. The trace is read once per process and shared by every simulation.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/spec/scenario.h"
#include "sim/ranks.h"

namespace flowkv::sim {

struct GpuPrice {
  std::string name;            // as the GPU catalogue spells it ("H100-SXM")
  int64_t micros_per_hour = 0; // price of one GPU-hour in millionths of a currency unit
};

// "H100-SXM:2.99,H200:3.79" -> prices; errors name `flag`.
std::vector<GpuPrice> parse_gpu_prices(const std::string& text, const std::string& flag);

struct PlanProgress {
  int wave = 0;
  size_t decided = 0;        // candidates simulated, found unfit or pruned so far
  size_t total = 0;          // candidates in the grid
  size_t simulated = 0;
  size_t stopped_early = 0;
  std::optional<size_t> best;  // candidate id of the best so far
  std::string best_text;       // "$8.97/h 1P H100-SXM + 2D H100-SXM (round-robin), attainment 0.962"
  double elapsed_s = 0;
  double left_s = 0;           // a rough estimate from the mean simulation time
};

struct PlanSpec {
  std::filesystem::path scenario;
  core::ScenarioOverrides overrides;  // `policy` must be unset
  std::optional<double> slo_ttft_s;   // default: the scenario's slo
  std::optional<double> slo_tpot_s;
  double target = 0.9;                // SLO attainment to reach, in (0, 1]
  std::optional<double> rate_rps;     // mean arrival rate (requests / span); exclusive with overrides.rate_scale
  std::vector<GpuPrice> gpus;         // at least one
  int max_gpus = 16;
  std::vector<std::string> policies;  // empty: the scenario's policies.global
  std::vector<int> tensor_parallel = {1};
  bool exhaustive = false;
  int jobs = 0;                       // threads per process (0: one per hardware thread)
  std::filesystem::path out;
  std::function<void(const PlanProgress&)> progress;  // rank 0, after every wave
};

enum class CandidateStatus {
  kUndecided,
  kBest,        // the cheapest feasible candidate (ties: higher attainment, then lower id)
  kFeasible,    // meets the target, not the best
  kRejected,    // simulated to the end below the target
  kStopped,     // rejected by the early stop
  kUnfit,       // the scenario does not load with this shape (the model does not fit): not simulated
  kDominated,   // pruned: no more nodes of any role than a rejected candidate of its family
  kCostlier,    // pruned: costs more than the best
};
const char* to_string(CandidateStatus status);

struct RoleShape {
  std::string gpu;  // "" when the role is absent
  int tp = 1;
  int count = 0;
};

// What a simulation of a candidate found. Deterministic fields only, except wall_s.
struct Evaluation {
  bool unfit = false;
  std::string unfit_message;
  bool stopped_early = false;
  int64_t requests = 0;            // of the trace
  int64_t arrived = 0;             // when it stopped (== requests otherwise)
  double stopped_at_s = 0;
  int64_t good = 0;                // meeting both SLOs (a full run)
  double attainment = 0;           // good / requests
  double goodput_rps = 0;
  int64_t missed_ttft = 0;         // certain misses by cause (all misses on a full run)
  int64_t missed_tpot = 0;
  int64_t failed = 0;
  int64_t failed_memory = 0;       // of `failed`: larger than any node's KV pool
  double ttft_p90_s = 0, tpot_p90_s = 0;  // over completed requests (a full run)
  int64_t preemptions = 0;
  double wall_s = 0;               // not written to plan.json
};

struct Candidate {
  size_t id = 0;
  size_t family = 0;
  std::string policy;
  bool colocated = false;
  RoleShape prefill, decode, colocated_nodes;
  int gpus = 0;
  int64_t cost_micros = 0;         // per hour
  CandidateStatus status = CandidateStatus::kUndecided;
  std::optional<Evaluation> eval;
  std::optional<size_t> pruned_by; // kDominated: the rejected candidate that dominates it
  std::string reason;              // ttft, tpot, memory, failures, unfit, dominated, costlier ("" if feasible)
  std::string rejected_because;    // one sentence
};

struct PlanResult {
  std::vector<Candidate> candidates;  // in id order
  std::optional<size_t> best;
  std::vector<size_t> frontier;       // by cost: no other candidate run to the end costs less with more goodput
  int waves = 0;
  size_t simulated = 0, stopped_early = 0, unfit = 0, dominated = 0, costlier = 0;
  nlohmann::ordered_json target;      // what plan.json says was asked
  nlohmann::ordered_json best_scenario;  // a scenario `flowkv simulate` accepts (null when none)
  std::string scenario_name;
  double wall_s = 0;                  // of the search
  double simulate_s = 0;              // summed wall time of the simulations (all ranks)
};

// Runs the search on every rank; on rank 0 writes OUT/plan.json, candidates.csv,
// best-scenario.json and best/ (the best candidate's run folder), and plan-run.json (timings).
PlanResult run_plan(const PlanSpec& spec, Ranks& ranks);

// "2P H100-SXM + 3D H200 x TP2" / "4C H100-SXM"
std::string shape_text(const Candidate& c);
// "$8.97/h"
std::string cost_text(int64_t micros);

}  // namespace flowkv::sim
