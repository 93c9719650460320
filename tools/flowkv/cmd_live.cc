// flowkv live: run a scenario's workload on real executors (the CPU, or a CUDA GPU) with the
// controller, schedulers and policies that `flowkv simulate` runs, and write the same result
// files from measured times (docs/live.md). Launched by mpirun or srun as several processes, it
// runs over them (live_ranks.h: one process per device, rank 0 the controller).
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
#include "tools/flowkv/live_ranks.h"
#include "tools/flowkv/run_summary.h"
#include "tools/flowkv/scenario_flags.h"
#include "tools/report/fidelity.h"

namespace flowkv::cli {
namespace {

namespace fs = std::filesystem;

const char* const kUsage =
    "flowkv live --scenario FILE [--device cpu|cuda] [--time-scale X] [--weights DIR] [--threads N] "
    "[--save-tokens] [--detailed] [--timeline] [--compare-sim] [--work-timeout-s S] [--heartbeat-timeout-s S] "
    "[--startup-timeout-s S] [--out DIR] [--quiet] [--trace FILE] [--trace-format F] "
    "[--model NAME] [--gpu NAME] [--prefill-nodes N] [--decode-nodes M] [--colocated-nodes K] [--policy NAME] "
    "[--rate-scale X] [--seed S] [--cost-profile FILE] [--set json.path=value]... [--fault SPEC]...";

// The simulation of the scenario that just ran live, with live's arrival times: live divides
// arrival times by --time-scale, the simulator by workload.rate_scale, so the simulation gets the
// product. Writes OUT/sim and OUT/fidelity.json, OUT/fidelity_requests.csv.
void compare_with_simulation(const LiveCommand& c) {
  const core::Scenario& live = c.scenario;
  const fs::path& out = c.out;
  const double time_scale = c.run.backend.time_scale;
  core::ScenarioOverrides o = c.overrides;
  double rate_scale = 1.0;
  if (live.workload.is_object() && live.workload.contains("rate_scale") && live.workload["rate_scale"].is_number()) {
    rate_scale = live.workload["rate_scale"].get<double>();
  }
  o.sets.push_back("workload.rate_scale=" + nlohmann::json(rate_scale * time_scale).dump());
  const core::Scenario scenario = core::load_scenario(c.scenario_path, o);
  const traces::Trace trace = sim::load_scenario_trace(scenario);
  std::fprintf(stderr, "live: simulating the same scenario (%s cost model, rate scale %g)\n",
               core::to_string(scenario.cost.kind), rate_scale * time_scale);
  const sim::SimResult result = sim::simulate(scenario, trace);
  core::write_run_files(result, scenario, out / "sim");
  report::FidelityOptions fo;
  fo.profile = scenario.cost.profile_path;
  const report::FidelityResult r = report::compare_runs(out, out / "sim", fo);
  core::OutputDir dir(out);
  dir.open("fidelity.json") << report::fidelity_json(r).dump(2) << "\n";
  dir.open("fidelity_requests.csv") << report::fidelity_requests_csv(r);
  dir.commit();
  std::printf("%s", report::fidelity_table(r).c_str());
  std::printf("wrote %s/sim/{summary.json,requests.csv,run.json,vllm.json}, %s/{fidelity.json,fidelity_requests.csv}\n",
              out.string().c_str(), out.string().c_str());
}

int live(const Args& args) {
  po::options_description opts("options");
  std::string scenario_path, out_dir, device = "cpu", weights;
  double time_scale = 1.0, work_timeout_s = 300, heartbeat_timeout_s = 10, startup_timeout_s = 600;
  int32_t threads = 0;
  opts.add_options()
      ("scenario", po::value<std::string>(&scenario_path)->required(), "scenario JSON file (or a name under scenarios/)");
  add_scenario_flags(opts, true);
  opts.add_options()
      ("device", po::value<std::string>(&device), "where the nodes run: cpu (default) or cuda (one GPU; nodes share it)")
      ("time-scale", po::value<double>(&time_scale), "replay arrivals X times faster (default 1: real time)")
      ("weights", po::value<std::string>(&weights),
       "Hugging Face safetensors folder (model.safetensors or an index of shards); default: random weights from the seed")
      ("threads", po::value<int32_t>(&threads), "CPU threads per node (default: cores / nodes on the host)")
      ("work-timeout-s", po::value<double>(&work_timeout_s),
       "an iteration or transfer not done after this many seconds times out and goes through recovery (default 300)")
      ("heartbeat-timeout-s", po::value<double>(&heartbeat_timeout_s),
       "launched over MPI ranks: a rank silent this long is lost, its nodes down for good (default 10)")
      ("startup-timeout-s", po::value<double>(&startup_timeout_s),
       "launched over MPI ranks: how long the ranks may take to start and build their nodes (default 600)")
      ("save-tokens", "also write DIR/tokens.jsonl: every request's generated token ids")
      ("detailed", "vllm.json also holds vLLM's per-request arrays, the generated token ids among them")
      ("timeline", "also write DIR/timeline.json (Chrome trace format; docs/timeline.md)")
      ("compare-sim",
       "then simulate the same scenario at the same arrival times (workload.rate_scale x --time-scale; with the "
       "scenario's cost model, calibrated with --cost-profile FILE) into DIR/sim and write DIR/fidelity.json "
       "(flowkv fidelity DIR DIR/sim)")
      ("out", po::value<std::string>(&out_dir), "output folder (default results/<scenario name>-live)")
      ("quiet", "no progress bar");
  po::variables_map vm;
  if (!parse_args(kUsage, args, opts, {}, vm)) return 0;
  if (!(time_scale > 0)) core::throw_input_error("--time-scale: expected a positive number");
  if (!(work_timeout_s > 0)) core::throw_input_error("--work-timeout-s: expected a positive number of seconds");
  if (!(heartbeat_timeout_s > 0)) core::throw_input_error("--heartbeat-timeout-s: expected a positive number of seconds");
  if (!(startup_timeout_s > 0)) core::throw_input_error("--startup-timeout-s: expected a positive number of seconds");
  if (vm.count("threads") && threads < 1) core::throw_input_error("--threads: expected at least 1");
  const core::ScenarioOverrides o = read_scenario_flags(vm);
  LiveCommand c;
  c.scenario = core::load_scenario(scenario_path, o);
  const core::Scenario& scenario = c.scenario;
  // Every rank reads the scenario; rank 0 (or the only process) says what it accepted.
  if (runtime::read_launch_env().rank == 0) {
    for (const std::string& w : scenario.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  }
  runtime::check_live_model(scenario.model);
  c.out = out_dir.empty() ? fs::path("results") / (scenario.name + "-live") : fs::path(out_dir);
  c.device.kind = device;
  c.device.weights_dir = weights;
  c.device.seed = scenario.seed;
  c.device.threads = threads;
  c.device.nodes = static_cast<int32_t>(scenario.nodes.size());
  c.run.backend.time_scale = time_scale;
  c.run.backend.work_timeout = core::Duration::from_seconds(work_timeout_s);
  c.timeline = vm.count("timeline") > 0;
  c.save_tokens = vm.count("save-tokens") > 0;
  c.quiet = vm.count("quiet") > 0;
  c.run.run.detailed = vm.count("detailed") > 0;
  c.heartbeat_timeout_s = heartbeat_timeout_s;
  c.compare_sim = vm.count("compare-sim") > 0;
  c.scenario_path = scenario_path;
  c.overrides = o;
  c.startup_timeout_s = startup_timeout_s;

  const runtime::LaunchEnv env = runtime::read_launch_env();
  if (env.world_size > 1) return live_over_ranks(c, env);

  const traces::Trace trace = sim::load_scenario_trace(scenario);
  std::unique_ptr<runtime::Device> dev = make_live_device(scenario.model, c.device);
  std::fprintf(stderr, "live: %zu requests on %zu nodes, device %s, time scale %g\n", trace.requests.size(),
               scenario.nodes.size(), dev->name().c_str(), time_scale);
  core::OutputDir dir(c.out);
  if (c.timeline) c.run.run.timeline = &dir.open("timeline.json");
  c.run.run.progress = progress_bar(c.quiet, 0.5);
  c.run.run.progress_shift = 3;
  const runtime::LiveRunResult result = runtime::run_live(scenario, trace, *dev, c.run);
  clear_progress_bar(static_cast<bool>(c.run.run.progress));
  report_live(c, result, dir);
  return 0;
}

}  // namespace

void report_live(const LiveCommand& c, const runtime::LiveRunResult& result, core::OutputDir& dir) {
  runtime::write_live_files(result, c.scenario, dir, c.save_tokens);
  dir.commit();
  print_run_summary(c.scenario, result.run);
  std::printf("live: device %s; %lld arrivals late (max lag %.3f s), %lld timed out, controller busy %.2f s of %.2f s\n",
              result.device.c_str(), static_cast<long long>(result.stats.arrivals_late),
              result.stats.max_arrival_lag.seconds(), static_cast<long long>(result.stats.timed_out),
              result.stats.controller_busy.seconds(), result.run.info.wall_s);
  if (result.stats.dispatched > 0) {
    std::printf("live: dispatch overhead %.1f us per iteration (submission to completion less the node's queue and run "
                "time), %.2f s in all; the controller spent %.3f s handing out work\n",
                result.stats.dispatch_overhead.seconds() * 1e6 / static_cast<double>(result.stats.dispatched),
                result.stats.dispatch_overhead.seconds(), result.stats.submit_time.seconds());
  }
  for (const std::string& l : result.stats.lost) std::printf("live: lost %s\n", l.c_str());
  for (const std::string& e : result.stats.errors) std::fprintf(stderr, "live: error: %s\n", e.c_str());
  std::printf("wrote %s/{summary.json,requests.csv,run.json,vllm.json,iterations.csv%s%s}\n", c.out.string().c_str(),
              c.save_tokens ? ",tokens.jsonl" : "", c.timeline ? ",timeline.json" : "");
  if (c.compare_sim) compare_with_simulation(c);
}

FLOWKV_COMMAND("live", "run a scenario on real executors (CPU or a CUDA GPU) with the same controller", live);

}  // namespace flowkv::cli
