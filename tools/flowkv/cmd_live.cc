// flowkv live: run a scenario's workload on real executors (the CPU, or a CUDA GPU) with the
// controller, schedulers and policies that `flowkv simulate` runs, and write the same result
// files from measured times (docs/live.md).
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include "core/base/error.h"
#include "core/results/timeline.h"
#include "core/sched/load_scenario.h"
#include "runtime/live/live_run.h"
#include "sim/run.h"
#include "tools/flowkv/command.h"
#include "tools/flowkv/live_device.h"
#include "tools/flowkv/run_summary.h"
#include "tools/flowkv/scenario_flags.h"

namespace flowkv::cli {
namespace {

namespace fs = std::filesystem;

const char* const kUsage =
    "flowkv live --scenario FILE [--device cpu|cuda] [--time-scale X] [--weights DIR] [--threads N] "
    "[--save-tokens] [--detailed] [--timeline] [--work-timeout-s S] [--out DIR] [--quiet] [--trace FILE] [--trace-format F] "
    "[--model NAME] [--gpu NAME] [--prefill-nodes N] [--decode-nodes M] [--colocated-nodes K] [--policy NAME] "
    "[--rate-scale X] [--seed S] [--set json.path=value]... [--fault SPEC]...";

int live(const Args& args) {
  po::options_description opts("options");
  std::string scenario_path, out_dir, device = "cpu", weights;
  double time_scale = 1.0, work_timeout_s = 300;
  int32_t threads = 0;
  opts.add_options()
      ("scenario", po::value<std::string>(&scenario_path)->required(), "scenario JSON file (or a name under scenarios/)");
  add_scenario_flags(opts, true);
  opts.add_options()
      ("device", po::value<std::string>(&device), "where the nodes run: cpu (default) or cuda (one GPU; nodes share it)")
      ("time-scale", po::value<double>(&time_scale), "replay arrivals X times faster (default 1: real time)")
      ("weights", po::value<std::string>(&weights),
       "Hugging Face safetensors folder (model.safetensors or an index of shards); default: random weights from the seed")
      ("threads", po::value<int32_t>(&threads), "CPU threads per node (default: cores / nodes)")
      ("work-timeout-s", po::value<double>(&work_timeout_s),
       "an iteration or transfer not done after this many seconds times out and goes through recovery (default 300)")
      ("save-tokens", "also write DIR/tokens.jsonl: every request's generated token ids")
      ("detailed", "vllm.json also holds vLLM's per-request arrays, the generated token ids among them")
      ("timeline", "also write DIR/timeline.json (Chrome trace format; docs/timeline.md)")
      ("out", po::value<std::string>(&out_dir), "output folder (default results/<scenario name>-live)")
      ("quiet", "no progress bar");
  po::variables_map vm;
  if (!parse_args(kUsage, args, opts, {}, vm)) return 0;
  if (!(time_scale > 0)) core::throw_input_error("--time-scale: expected a positive number");
  if (!(work_timeout_s > 0)) core::throw_input_error("--work-timeout-s: expected a positive number of seconds");
  if (vm.count("threads") && threads < 1) core::throw_input_error("--threads: expected at least 1");
  const core::ScenarioOverrides o = read_scenario_flags(vm);
  const core::Scenario scenario = core::load_scenario(scenario_path, o);
  for (const std::string& w : scenario.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  runtime::check_live_model(scenario.model);
  const traces::Trace trace = sim::load_scenario_trace(scenario);
  const fs::path out = out_dir.empty() ? fs::path("results") / (scenario.name + "-live") : fs::path(out_dir);

  LiveDeviceOptions dopts;
  dopts.kind = device;
  dopts.weights_dir = weights;
  dopts.seed = scenario.seed;
  dopts.threads = threads;
  dopts.nodes = static_cast<int32_t>(scenario.nodes.size());
  std::unique_ptr<runtime::Device> dev = make_live_device(scenario.model, dopts);
  std::fprintf(stderr, "live: %zu requests on %zu nodes, device %s, time scale %g\n", trace.requests.size(),
               scenario.nodes.size(), dev->name().c_str(), time_scale);

  runtime::LiveRunOptions lopts;
  lopts.backend.time_scale = time_scale;
  lopts.backend.work_timeout = core::Duration::from_seconds(work_timeout_s);
  core::OutputDir dir(out);
  if (vm.count("timeline")) lopts.run.timeline = &dir.open("timeline.json");
  lopts.run.progress = progress_bar(vm.count("quiet") > 0, 0.5);
  lopts.run.progress_shift = 3;
  lopts.run.detailed = vm.count("detailed") > 0;
  const runtime::LiveRunResult result = runtime::run_live(scenario, trace, *dev, lopts);
  clear_progress_bar(static_cast<bool>(lopts.run.progress));
  runtime::write_live_files(result, scenario, dir, vm.count("save-tokens") > 0);
  dir.commit();
  print_run_summary(scenario, result.run);
  std::printf("live: device %s; %lld arrivals late (max lag %.3f s), %lld timed out, controller busy %.2f s of %.2f s\n",
              result.device.c_str(), static_cast<long long>(result.stats.arrivals_late),
              result.stats.max_arrival_lag.seconds(), static_cast<long long>(result.stats.timed_out),
              result.stats.controller_busy.seconds(), result.run.info.wall_s);
  for (const std::string& e : result.stats.errors) std::fprintf(stderr, "live: error: %s\n", e.c_str());
  std::printf("wrote %s/{summary.json,requests.csv,run.json,vllm.json,iterations.csv%s%s}\n", out.string().c_str(),
              vm.count("save-tokens") ? ",tokens.jsonl" : "", vm.count("timeline") ? ",timeline.json" : "");
  return 0;
}

}  // namespace

FLOWKV_COMMAND("live", "run a scenario on real executors (CPU or a CUDA GPU) with the same controller", live);

}  // namespace flowkv::cli
