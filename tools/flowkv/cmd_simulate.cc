// flowkv simulate: replay a scenario's workload through the simulated cluster, print a summary
// table and write summary.json, requests.csv, run.json and vllm.json (docs/simulator.md).
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "core/base/error.h"
#include "core/results/timeline.h"
#include "core/results/vllm_result.h"
#include "core/sched/load_scenario.h"
#include "sim/run.h"
#include "tools/flowkv/command.h"
#include "tools/flowkv/run_summary.h"
#include "tools/flowkv/scenario_flags.h"

namespace flowkv::cli {
namespace {

namespace fs = std::filesystem;

const char* const kUsage =
    "flowkv simulate --scenario FILE [--trace FILE] [--trace-format F] [--model NAME] [--gpu NAME] "
    "[--prefill-nodes N] [--decode-nodes M] [--colocated-nodes K] [--policy NAME] [--rate-scale X] "
    "[--seed S] [--cost-profile FILE] [--set json.path=value]... [--fault node=N,at=T[,for=D][,kind=K][,factor=F]]... [--out DIR] "
    "[--timeline] [--timeline-window START:END] [--vllm-json FILE] [--detailed] [--accept-unmodelled KEY,...] [--quiet]";

int simulate(const Args& args) {
  po::options_description opts("options");
  std::string scenario_path, out_dir;
  opts.add_options()
      ("scenario", po::value<std::string>(&scenario_path)->required(), "scenario JSON file (or a name under scenarios/)");
  add_scenario_flags(opts, true);  // tools/flowkv/scenario_flags.h, shared with compare and sweep
  opts.add_options()
      ("out", po::value<std::string>(&out_dir), "output folder (default results/<scenario name>)")
      ("timeline", "also write DIR/timeline.json (Chrome trace format: Perfetto, chrome://tracing; docs/timeline.md)")
      ("timeline-window", po::value<std::string>(),
       "keep only the timeline events that touch START:END (seconds of virtual time; implies --timeline)")
      ("vllm-json", po::value<std::string>(), "also write FILE in the format of vLLM's benchmark_serving.py result (docs/report.md)")
      ("detailed", "vllm.json also holds vLLM's per-request arrays (input_lens, output_lens, ttfts, itls, start_times, latencies, errors); keeps every token's time in memory")
      ("quiet", "no progress bar");
  po::variables_map vm;
  if (!parse_args(kUsage, args, opts, {}, vm)) return 0;
  if (vm.count("vllm-json") && vm["vllm-json"].as<std::string>().empty()) core::throw_input_error("--vllm-json: expected a file name");
  const core::ScenarioOverrides o = read_scenario_flags(vm);
  std::optional<core::TimelineWindow> timeline_window;
  if (vm.count("timeline-window")) timeline_window = core::parse_timeline_window(vm["timeline-window"].as<std::string>());
  const bool want_timeline = vm.count("timeline") || timeline_window;

  const core::Scenario scenario = core::load_scenario(scenario_path, o);
  for (const std::string& w : scenario.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  const traces::Trace trace = sim::load_scenario_trace(scenario);
  const fs::path out = out_dir.empty() ? fs::path("results") / scenario.name : fs::path(out_dir);

  sim::SimOptions sopts;
  sopts.detailed = vm.count("detailed") > 0;
  // timeline.json streams into the output folder during the run and is renamed into place with
  // the other files (core/results/result_files.h), so a failed run leaves none of them.
  core::OutputDir dir(out);
  if (want_timeline) {
    sopts.timeline = &dir.open("timeline.json");
    sopts.timeline_window = timeline_window;
  }
  sopts.progress = progress_bar(vm.count("quiet") > 0, 0.0);
  const sim::SimResult result = sim::simulate(scenario, trace, sopts);
  clear_progress_bar(static_cast<bool>(sopts.progress));
  core::write_run_files(result, scenario, dir);
  dir.commit();
  print_run_summary(scenario, result);
  if (scenario.cost.kind == core::CostModelKind::kCalibrated) {
    const nlohmann::ordered_json& fit = result.summary["cost_model_fit"];
    const nlohmann::ordered_json& held = fit["held_back"];
    std::printf("cost model: calibrated on %s (%s); held-back grid points: mean |error| %.2f%%, max %.2f%% (%lld points); "
                "overhead %.1f us per iteration\n",
                fit["device"].get<std::string>().c_str(), scenario.cost.profile_path.string().c_str(),
                100 * held["mean_abs"].get<double>(), 100 * held["max_abs"].get<double>(),
                static_cast<long long>(held["points"].get<int64_t>()), 1e6 * fit["iteration_overhead_s"].get<double>());
  }
  std::printf("wrote %s/{summary.json,requests.csv,run.json,vllm.json} (%.2f s wall, %.0f requests/s, %lld events)\n",
              out.string().c_str(), result.info.wall_s,
              result.info.wall_s > 0 ? static_cast<double>(result.info.requests) / result.info.wall_s : 0.0,
              static_cast<long long>(result.info.events));

  if (vm.count("vllm-json")) {
    const fs::path vllm = vm["vllm-json"].as<std::string>();
    core::write_vllm_result(vllm, core::run_vllm_json(result, scenario));
    std::printf("wrote %s (vLLM benchmark_serving.py result format)\n", vllm.string().c_str());
  }
  if (result.timeline) {
    const core::TimelineStats& t = *result.timeline;
    std::fprintf(stderr, "timeline: wrote %s: %.1f MB, %lld events", (out / "timeline.json").string().c_str(),
                 static_cast<double>(t.bytes) / 1e6, static_cast<long long>(t.events));
    if (timeline_window) std::fprintf(stderr, " (%lld outside the window left out)", static_cast<long long>(t.dropped));
    std::fprintf(stderr, "\n");
  }
  return 0;
}

}  // namespace

FLOWKV_COMMAND("simulate", "replay a scenario's workload on a simulated cluster", simulate);

}  // namespace flowkv::cli
