// `flowkv live` launched as several processes (mpirun / srun): what cmd_live.cc parsed, and the
// multi-rank path (live_ranks.cc in MPI builds; live_ranks_nompi.cc otherwise, which refuses a
// multi-rank launch and says why). docs/live.md, "Across processes and hosts".
#pragma once

#include <filesystem>
#include <string>

#include "core/spec/scenario.h"
#include "runtime/live/launch_env.h"
#include "runtime/live/live_run.h"
#include "tools/flowkv/live_device.h"

namespace flowkv::cli {

struct LiveCommand {
  core::Scenario scenario;
  std::filesystem::path out;
  LiveDeviceOptions device;
  runtime::LiveRunOptions run;  // run.timeline is set by whoever opens the output folder
  bool timeline = false;
  bool save_tokens = false;
  bool quiet = false;
  double heartbeat_timeout_s = 10;
  double startup_timeout_s = 600;
  // --compare-sim: simulate the scenario as read (path and flags) and compare with the live run.
  bool compare_sim = false;
  std::string scenario_path;
  core::ScenarioOverrides overrides;
};

// The single-process run and the multi-rank one both end here (rank 0): result files, summary
// table, the live line. Commits `dir`.
void report_live(const LiveCommand& command, const runtime::LiveRunResult& result, core::OutputDir& dir);

// Runs the command as one rank of `env.world_size`; returns the process's exit code.
int live_over_ranks(const LiveCommand& command, const runtime::LaunchEnv& env);

}  // namespace flowkv::cli
