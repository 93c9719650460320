// Reading result folders for the report: what `flowkv simulate`, `compare` and `sweep` write.
//
// A folder's kind is told by the files in it:
//   plan.json     a plan (flowkv plan): target, best, frontier and every candidate, with the best
//                 shape's run in best/ (read as a run when present)
//   sweep.json    a sweep: {"cells": [{"policy", "rate_scale", "rate_rps", "dir"}]}, each cell's
//                 dir (relative to the sweep folder) holding a run's summary.json
//   compare.json  a comparison: {"policies": [{"name", "summary"}]}, with one sub-folder per
//                 policy holding its summary.json and requests.csv
//   summary.json  one run (requests.csv, timeline.json and fidelity.json with
//                 fidelity_requests.csv beside it are read when present)
// checked in that order. Everything the report uses is validated here, once: a folder with none
// of these files, malformed JSON or CSV, or a missing or mistyped key is an input error (exit 2)
// whose message names the file and the JSON path or line.
//
// Pure reading; no state. The result is plain data that the page builder renders.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/report/fidelity.h"

namespace flowkv::report {

struct StatSummary {
  double mean = 0, p50 = 0, p90 = 0, p99 = 0;
};

struct NodeSummary {
  std::string name, gpu, role_initial, role_final;
  double utilization = 0, kv_usage_mean = 0, kv_usage_peak = 0;
  int64_t kv_blocks = 0, iterations = 0, preemptions = 0, transfers_out = 0, transfers_in = 0, role_flips = 0;
};

// The figures of summary.json the report shows (core/results/result_files.h writes them).
struct RunSummary {
  int64_t total = 0, completed = 0, failed = 0, preempted = 0, preemptions = 0, retries = 0;
  StatSummary ttft, tpot, itl, e2e, queue, transfer;  // seconds
  int64_t transfer_calls_total = 0, transfer_bytes_total = 0;
  double requests_per_s = 0, output_tokens_per_s = 0, goodput_rps = 0, slo_attainment = 0, makespan_s = 0;
  int64_t role_flips = 0;
  std::vector<NodeSummary> nodes;
  // From the resolved scenario, when present ("" / 0 otherwise).
  std::string scenario_name, model, policy, role_policy, layout, allocator;
  double slo_ttft_s = 0, slo_tpot_s = 0;
  double rate_scale = 0;  // workload.rate_scale, 0 when not set
};

// The columns of requests.csv the report uses, one entry per row; NaN where a cell is empty.
struct RequestTable {
  std::vector<int32_t> prompt_tokens, output_tokens;
  std::vector<uint8_t> completed;
  std::vector<double> arrival_s, ttft_s, tpot_s, e2e_s, transfer_s;
  std::vector<double> queue_s;  // prefill_start_s - arrival_s
  size_t size() const { return prompt_tokens.size(); }
};

// Counter tracks and role flips from a Chrome-trace timeline.json (core/results/timeline.h writes it),
// per node: the process name up to " (", so "P0 (H100-SXM, prefill)" is node P0. A counter
// argument named "%" is a percentage and is stored as a fraction.
struct UsageTrack {
  std::string node;
  std::string counter;  // the counter's name, e.g. "kv_usage"
  std::vector<double> t_s, value;
};
struct RoleFlipMark {
  std::string node;
  double t_s = 0;
  std::string label;
};
struct Timeline {
  std::vector<UsageTrack> kv;           // counters whose name mentions "kv"
  std::vector<UsageTrack> utilization;  // counters whose name mentions "util" or "busy"
  std::vector<RoleFlipMark> flips;      // instant events whose name mentions "role" or "flip"
};

struct Run {
  std::string label;  // legend name: the policy ("policy @ R req/s" for a sweep cell), made
                      // unique with the named folder, then the run's folder, when needed
  std::filesystem::path dir;
  std::string origin;  // "run DIR", "compare DIR", "sweep DIR at R req/s"
  std::string source;  // the folder the user named that holds it (its last component)
  std::string backend = "sim";  // "live" when summary.json has a "live" object (flowkv live)
  RunSummary summary;
  std::optional<RequestTable> requests;  // absent when requests.csv is missing
  std::optional<Timeline> timeline;      // absent when timeline.json is missing
  std::optional<FidelityResult> fidelity;  // fidelity.json of `flowkv fidelity`, when present
};

struct SweepCell {
  std::string policy;
  double rate_scale = 0, rate_rps = 0;
  std::filesystem::path dir;
  RunSummary summary;
};

struct Sweep {
  std::filesystem::path dir;
  std::vector<SweepCell> cells;  // as listed in sweep.json
};

// One candidate of a plan, as plan.json lists it (sim/plan.h writes it).
struct PlanCandidate {
  int64_t id = 0;
  std::string shape, policy, status, reason, rejected_because;
  double cost_per_hour = 0;
  std::optional<double> goodput_rps, attainment;  // absent when not run to the end
};

struct Plan {
  std::filesystem::path dir;
  std::string scenario;
  double slo_ttft_s = 0, slo_tpot_s = 0, target = 0, rate_rps = 0;
  int64_t requests = 0;
  std::string mode;  // "pruned" or "exhaustive"
  int64_t grid = 0, simulated = 0, stopped_early = 0, unfit = 0, pruned_dominated = 0, pruned_costlier = 0;
  std::optional<int64_t> best;      // candidate id
  std::vector<int64_t> frontier;    // candidate ids, by cost
  std::vector<PlanCandidate> candidates;  // indexed by id
};

struct ReportInput {
  std::vector<Run> runs;
  std::vector<Sweep> sweeps;
  std::vector<Plan> plans;
  std::vector<std::string> notes;  // what the page should tell about how inputs were read
};

// Reads every folder. Sweep cells become runs for the latency plots too, at one rate (the
// middle rate of the sweep) so that each policy has one line; a note says which.
ReportInput load_results(const std::vector<std::filesystem::path>& dirs);

// Each part on its own, for the tests and for other commands.
RunSummary read_summary_json(const std::filesystem::path& file);
Plan read_plan_json(const std::filesystem::path& file);
// `where` names the object in errors: "DIR/summary.json" or "DIR/compare.json: policies[1].summary".
RunSummary parse_summary(const nlohmann::json& summary, const std::string& where);
RequestTable read_requests_csv(const std::filesystem::path& file);
Timeline read_timeline_json(const std::filesystem::path& file);

}  // namespace flowkv::report
