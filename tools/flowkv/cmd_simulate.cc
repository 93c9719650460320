// flowkv simulate: replay a scenario's workload through the simulated cluster, print a summary
// table and write summary.json, requests.csv, run.json and vllm.json (docs/simulator.md).
#include <unistd.h>

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
#include "tools/flowkv/scenario_flags.h"

namespace flowkv::cli {
namespace {

namespace fs = std::filesystem;

const char* const kUsage =
    "flowkv simulate --scenario FILE [--trace FILE] [--trace-format F] [--model NAME] [--gpu NAME] "
    "[--prefill-nodes N] [--decode-nodes M] [--colocated-nodes K] [--policy NAME] [--rate-scale X] "
    "[--seed S] [--set json.path=value]... [--fault node=N,at=T[,for=D][,kind=K][,factor=F]]... [--out DIR] "
    "[--timeline] [--timeline-window START:END] [--vllm-json FILE] [--accept-unmodelled KEY,...] [--quiet]";

void print_stat_row(const char* name, const core::Stat& s, double scale, const char* unit) {
  std::printf("  %-14s %10.3f %10.3f %10.3f %10.3f  %s\n", name, s.mean * scale, s.p50 * scale,
              s.p90 * scale, s.p99 * scale, unit);
}

void print_summary(const core::Scenario& sc, const sim::SimResult& r, const fs::path& out) {
  const core::RunMetrics& m = r.metrics;
  int roles[3] = {0, 0, 0};
  for (const core::NodeSpec& n : sc.nodes) ++roles[static_cast<int>(n.role)];
  std::printf("scenario %s: %s, %zu nodes (%d prefill, %d decode, %d colocated), policy %s\n",
              sc.name.c_str(), sc.model.name.c_str(), sc.nodes.size(), roles[0], roles[1], roles[2],
              sc.global.name.c_str());
  std::printf("requests: %lld total, %lld completed, %lld failed, %lld preempted (%lld preemptions)\n",
              static_cast<long long>(m.total), static_cast<long long>(m.completed),
              static_cast<long long>(m.failed), static_cast<long long>(m.preempted),
              static_cast<long long>(m.preemptions));
  for (const auto& [reason, n] : m.failed_by_reason) {
    std::printf("  failed: %s: %lld\n", reason.c_str(), static_cast<long long>(n));
  }
  std::printf("  %-14s %10s %10s %10s %10s\n", "", "mean", "p50", "p90", "p99");
  print_stat_row("TTFT", m.ttft, 1e3, "ms");
  print_stat_row("TPOT", m.tpot, 1e3, "ms");
  print_stat_row("ITL", m.itl, 1e3, "ms");
  print_stat_row("E2E", m.e2e, 1.0, "s");
  print_stat_row("queueing", m.queue, 1e3, "ms");
  print_stat_row("KV transfer", m.transfer, 1e3, "ms");
  std::printf("throughput: %.3f requests/s, %.1f output tokens/s over %.1f s\n", m.requests_per_s,
              m.output_tokens_per_s, m.makespan_s);
  std::printf("goodput: %.3f requests/s (%.1f%% within TTFT <= %g s and TPOT <= %g s)\n", m.goodput_rps,
              100.0 * m.slo_attainment, sc.slo.ttft_s, sc.slo.tpot_s);
  std::printf("KV transfers: %lld calls, %.3f GB; role flips: %lld\n",
              static_cast<long long>(m.transfer_calls_total), static_cast<double>(m.transfer_bytes_total) / 1e9,
              static_cast<long long>(m.role_flips));
  if (m.elastic_joins + m.elastic_leaves > 0 || sc.prefix_cache_blocks != 0) {
    std::printf("elastic: %lld joins, %lld leaves; prefix cache: %.1f%% of routed prompt tokens hit\n",
                static_cast<long long>(m.elastic_joins), static_cast<long long>(m.elastic_leaves),
                m.prefix_prompt_tokens > 0 ? 100.0 * static_cast<double>(m.prefix_hit_tokens) /
                                                 static_cast<double>(m.prefix_prompt_tokens)
                                           : 0.0);
  }
  if (!sc.faults.empty()) {
    std::printf("faults: %zu injected, %lld node failures; recovered %lld by re-prefill, %lld by re-transfer, "
                "%lld rerouted\n",
                sc.faults.size(), static_cast<long long>(m.node_failures), static_cast<long long>(m.recoveries.reprefill),
                static_cast<long long>(m.recoveries.retransfer), static_cast<long long>(m.recoveries.reroute));
  }
  std::printf("  %-6s %-10s %-10s %6s %9s %8s %12s\n", "node", "gpu", "role", "util", "KV mean", "KV peak",
              "preemptions");
  for (const core::NodeMetrics& n : m.nodes) {
    std::printf("  %-6s %-10s %-10s %5.1f%% %8.1f%% %7.1f%% %12lld\n", n.name.c_str(), n.gpu.c_str(),
                core::to_string(n.final_role), 100 * n.utilization, 100 * n.kv_usage_mean, 100 * n.kv_usage_peak,
                static_cast<long long>(n.preemptions));
  }
  std::printf("wrote %s/{summary.json,requests.csv,run.json,vllm.json} (%.2f s wall, %.0f requests/s, %lld events)\n",
              out.string().c_str(), r.info.wall_s,
              r.info.wall_s > 0 ? static_cast<double>(r.info.requests) / r.info.wall_s : 0.0,
              static_cast<long long>(r.info.events));
}

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
  // timeline.json streams into the output folder during the run and is renamed into place with
  // the other files (core/results/result_files.h), so a failed run leaves none of them.
  core::OutputDir dir(out);
  if (want_timeline) {
    sopts.timeline = &dir.open("timeline.json");
    sopts.timeline_window = timeline_window;
  }
  const bool bar = !vm.count("quiet") && ::isatty(STDERR_FILENO);
  if (bar) {
    sopts.progress = [](int64_t arrived, int64_t finished, int64_t total) {
      const int width = 40;
      const double f = total > 0 ? static_cast<double>(finished) / static_cast<double>(total) : 1.0;
      const int filled = static_cast<int>(f * width);
      std::fprintf(stderr, "\r[%s%s] %5.1f%% %lld/%lld finished, %lld arrived", std::string(filled, '#').c_str(),
                   std::string(width - filled, ' ').c_str(), 100 * f, static_cast<long long>(finished),
                   static_cast<long long>(total), static_cast<long long>(arrived));
      std::fflush(stderr);
    };
  }
  const sim::SimResult result = sim::simulate(scenario, trace, sopts);
  if (bar) std::fprintf(stderr, "\r%*s\r", 90, "");
  sim::write_results(result, scenario, dir);
  dir.commit();
  print_summary(scenario, result, out);
  if (vm.count("vllm-json")) {
    const fs::path vllm = vm["vllm-json"].as<std::string>();
    core::write_vllm_result(vllm, core::vllm_result_json(result.metrics, result.records, scenario));
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
