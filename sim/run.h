// Running a scenario end to end in the simulator: the entry point of `flowkv simulate` and of
// anything that runs many simulations (compare, sweep, benchmarks).
//
// simulate() builds a SimBackend and a core::Controller over the given requests, runs them to
// the end and computes the metrics. It uses no global state: several simulations may run at
// once on different threads (each with its own Scenario or sharing a const one).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <ostream>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/control/controller.h"
#include "core/results/metrics.h"
#include "core/results/result_files.h"
#include "core/results/timeline.h"
#include "core/spec/scenario.h"
#include "core/work/request_record.h"
#include "traces/trace.h"

namespace flowkv::sim {

// The scenario's workload resolved (trace file or generator, with its transforms).
traces::Trace load_scenario_trace(const core::Scenario& scenario);

struct SimOptions {
  // Called now and then with (arrived, finished, total) requests.
  std::function<void(int64_t, int64_t, int64_t)> progress;
  core::ControllerObserver* observer = nullptr;
  bool check_invariants = false;  // after every event (slow)
  // When set, a Chrome-trace timeline of the run is streamed here (core/results/timeline.h), keeping
  // only the events that touch `timeline_window` when one is given.
  std::ostream* timeline = nullptr;
  std::optional<core::TimelineWindow> timeline_window;
};

struct SimResult {
  core::RunMetrics metrics;
  nlohmann::ordered_json summary;           // what summary.json holds
  std::vector<core::RequestRecord> records;
  core::ControllerTotals totals;
  core::RunInfo info;                       // wall time, events, peak RSS
  std::optional<core::TimelineStats> timeline;  // when SimOptions::timeline was set
};

SimResult simulate(const core::Scenario& scenario, const traces::Trace& trace, const SimOptions& options = {});

// Writes summary.json, requests.csv, run.json and vllm.json (vLLM's benchmark result format,
// core/results/vllm_result.h) into `dir` (nothing half-written on error).
void write_results(const SimResult& result, const core::Scenario& scenario, const std::filesystem::path& dir);
// The same files added to `out`, which the caller commits (e.g. after a timeline.json streamed
// into the same folder during the run).
void write_results(const SimResult& result, const core::Scenario& scenario, core::OutputDir& out);

}  // namespace flowkv::sim
