// Running a scenario live: the scenario's controller over a LiveBackend on a device, to the end,
// and the result folder of a live run. The entry point of `flowkv live` (docs/live.md).
//
// The result files are the simulator's (summary.json, requests.csv, run.json, vllm.json and
// timeline.json when asked: core/results/run.h) from measured times, plus
//   iterations.csv   every executed iteration: node, times, batch composition (what
//                    calibration and fidelity compare against the cost model)
//   tokens.jsonl     with save_tokens: one line per request, {"id": N, "tokens": [...]}, the
//                    generated token ids
// and summary.json gains a "live" object (device, time scale, arrival lag, timeouts, errors).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/results/run.h"
#include "runtime/executor.h"
#include "runtime/live/live_backend.h"
#include "traces/trace.h"

namespace flowkv::runtime {

struct LiveRunOptions {
  LiveOptions backend;
  core::RunOptions run;
};

struct LiveRunResult {
  core::RunResult run;
  LiveStats stats;
  std::string device;
  double time_scale = 1.0;
  // Per request id: the generated tokens (prompt excluded).
  std::vector<std::vector<int32_t>> outputs;
};

// Refuses (input error naming it) a model the live executors cannot run: MoE, MLA, windowed
// attention, quantized weights, an unsupported rope scaling.
void check_live_model(const core::ModelSpec& model);

LiveRunResult run_live(const core::Scenario& scenario, const traces::Trace& trace, Device& device,
                       const LiveRunOptions& options);
// The same with the nodes where `make_host` puts them (runtime/mpi/: on other MPI ranks).
LiveRunResult run_live(const core::Scenario& scenario, const traces::Trace& trace, const NodeHostFactory& make_host,
                       const LiveRunOptions& options);

void write_live_files(const LiveRunResult& result, const core::Scenario& scenario, core::OutputDir& out,
                      bool save_tokens);

}  // namespace flowkv::runtime
