// Running a scenario's controller over a backend to the end, and the result files of a run.
// The same for the simulator (sim::simulate) and the live backend (runtime::run_live): only the
// Backend differs, so both write the same files with the same definitions.
//
// run_controller() uses no global state: several runs may go on at once on different threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/control/controller.h"
#include "core/results/metrics.h"
#include "core/results/result_files.h"
#include "core/results/timeline.h"
#include "core/results/vllm_result.h"
#include "core/spec/scenario.h"
#include "core/work/request_record.h"

namespace flowkv::core {

struct RunOptions {
  // Called now and then with (arrived, finished, total) requests.
  std::function<void(int64_t, int64_t, int64_t)> progress;
  int32_t progress_shift = 16;  // every 2^progress_shift events (ControllerOptions)
  ControllerObserver* observer = nullptr;
  bool check_invariants = false;  // after every event (slow)
  // ControllerOptions::stop_after_slo_misses: stop once more requests than this are certain to
  // miss the SLO (RunResult::totals.stopped_early says it happened). Negative: never.
  int64_t stop_after_slo_misses = -1;
  // When set, a Chrome-trace timeline of the run is streamed here (core/results/timeline.h),
  // keeping only the events that touch `timeline_window` when one is given.
  std::ostream* timeline = nullptr;
  std::optional<TimelineWindow> timeline_window;
  // Keep every request's token times for vllm.json's per-request arrays (--detailed): memory
  // grows with the output tokens.
  bool detailed = false;
};

struct RunResult {
  RunMetrics metrics;
  nlohmann::ordered_json summary;           // what summary.json holds
  std::vector<RequestRecord> records;
  ControllerTotals totals;
  RunInfo info;                             // wall time, events, peak RSS (events: the backend's)
  std::optional<TimelineStats> timeline;    // when RunOptions::timeline was set
  std::optional<VllmDetail> detail;         // when RunOptions::detailed was set
  // vllm.json's date: a live run's start ("%Y%m%d-%H%M%S"); a simulated run writes the epoch of
  // its virtual clock (byte-identical files).
  std::optional<std::string> date;
};

// Builds a Controller over `backend`, runs it until the backend has nothing left, and computes
// the metrics and summary. `requests`: how many the backend will deliver. info.backend is
// `backend_name`; the caller fills what only it knows (info.events, summary["workload"]).
RunResult run_controller(const Scenario& scenario, Backend& backend, int64_t requests, const RunOptions& options,
                         const std::string& backend_name);

// vllm.json's content for a run (the per-request arrays when it was run with `detailed`).
nlohmann::ordered_json run_vllm_json(const RunResult& result, const Scenario& scenario);

// Writes summary.json, requests.csv, run.json and vllm.json (vLLM's benchmark result format,
// core/results/vllm_result.h) into `dir` (nothing half-written on error).
void write_run_files(const RunResult& result, const Scenario& scenario, const std::filesystem::path& dir);
// The same files added to `out`, which the caller commits (e.g. after a timeline.json streamed
// into the same folder during the run).
void write_run_files(const RunResult& result, const Scenario& scenario, OutputDir& out);
// The same files, each written to the stream open(name) returns (e.g. into memory, to send them
// to the process that writes the folder).
void write_run_files(const RunResult& result, const Scenario& scenario,
                     const std::function<std::ostream&(const std::string& name)>& open);

}  // namespace flowkv::core
