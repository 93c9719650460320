// flowkv compare: run several global policies on one scenario's workload, in parallel threads,
// print one table and write OUT/compare.json and OUT/<policy>/ (docs/scheduling.md).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "core/base/error.h"
#include "core/sched/load_scenario.h"
#include "sim/compare.h"
#include "tools/flowkv/command.h"
#include "tools/flowkv/result_table.h"
#include "tools/flowkv/scenario_flags.h"

namespace flowkv::cli {
namespace {

namespace fs = std::filesystem;

int compare(const Args& args) {
  const std::string usage = std::string("flowkv compare --scenario FILE --policies a,b,c ") + kScenarioFlagsUsage +
                            " [--timeline] [--timeline-window START:END] [--out DIR] [--jobs N] [--quiet]";
  po::options_description opts("options");
  std::string scenario_path, out_dir, policies;
  int jobs = 0;
  opts.add_options()
      ("scenario", po::value<std::string>(&scenario_path)->required(), "scenario JSON file (or a name under scenarios/)")
      ("policies", po::value<std::string>(&policies)->required(), "global policies to compare, comma-separated");
  add_scenario_flags(opts, false);
  opts.add_options()
      ("out", po::value<std::string>(&out_dir), "output folder (default results/<scenario name>-compare)")
      ("jobs", po::value<int>(&jobs), "parallel runs (default: one per hardware thread)")
      ("timeline", "also write DIR/<policy>/timeline.json (Chrome trace format; docs/timeline.md)")
      ("timeline-window", po::value<std::string>(),
       "keep only the timeline events that touch START:END (seconds of virtual time; implies --timeline)")
      ("quiet", "no progress lines");
  po::variables_map vm;
  if (!parse_args(usage, args, opts, {}, vm)) return 0;
  if (vm.count("jobs") && jobs < 1) core::throw_input_error("--jobs: expected an integer >= 1");

  sim::CompareSpec spec;
  spec.scenario = scenario_path;
  spec.overrides = read_scenario_flags(vm);
  spec.policies = sim::split_list(policies, "--policies");
  spec.jobs = jobs;
  if (vm.count("timeline-window")) spec.timeline.window = core::parse_timeline_window(vm["timeline-window"].as<std::string>());
  spec.timeline.wanted = vm.count("timeline") || spec.timeline.window;
  if (out_dir.empty()) {
    out_dir = (fs::path("results") / (core::load_scenario(scenario_path, spec.overrides).name + "-compare")).string();
  }
  spec.out = out_dir;
  if (!vm.count("quiet") && ::isatty(STDERR_FILENO)) {
    spec.progress = [](size_t done, size_t all, const std::string& what) {
      std::fprintf(stderr, "[%zu/%zu] %s done\n", done, all, what.c_str());
    };
  }
  const std::vector<sim::RunOutcome> runs = sim::run_compare(spec);
  print_result_header(stdout, "policy");
  for (const sim::RunOutcome& r : runs) print_result_row(stdout, r.policy, r.metrics);
  std::printf("wrote %s/compare.json and %s/<policy>/\n", out_dir.c_str(), out_dir.c_str());
  return 0;
}

}  // namespace

FLOWKV_COMMAND("compare", "run several scheduling policies on one workload and compare them", compare);

}  // namespace flowkv::cli
