// flowkv sweep: a grid of policies x arrival rates, on all cores; one folder per cell and
// OUT/sweep.json (docs/scheduling.md).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "core/base/error.h"
#include "core/sched/load_scenario.h"
#include "sim/compare.h"
#include "tools/flowkv/command.h"
#include "tools/flowkv/launch.h"
#include "tools/flowkv/result_table.h"
#include "tools/flowkv/scenario_flags.h"

namespace flowkv::cli {
namespace {

namespace fs = std::filesystem;

std::vector<double> parse_rates(const std::vector<std::string>& labels, const std::string& flag) {
  std::vector<double> rates;
  for (const std::string& l : labels) {
    char* end = nullptr;
    const double v = std::strtod(l.c_str(), &end);
    if (end == l.c_str() || *end != '\0' || !(v > 0) || v > 1e9) {
      core::throw_input_error(flag + ": expected positive numbers, got '" + l + "'");
    }
    rates.push_back(v);
  }
  return rates;
}

int sweep(const Args& args) {
  const std::string usage = std::string("flowkv sweep --scenario FILE (--rates r1,r2,... | --rate-scales s1,s2,...) "
                                        "--policies a,b,c ") +
                            kScenarioFlagsUsage + " [--out DIR] [--jobs N] [--quiet]";
  po::options_description opts("options");
  std::string scenario_path, out_dir, policies;
  int jobs = 0;
  opts.add_options()
      ("scenario", po::value<std::string>(&scenario_path)->required(), "scenario JSON file (or a name under scenarios/)")
      ("rates", po::value<std::string>(), "mean arrival rates in requests/s, comma-separated")
      ("rate-scales", po::value<std::string>(), "multipliers of the scenario's arrival rate, comma-separated")
      ("policies", po::value<std::string>(&policies)->required(), "global policies, comma-separated");
  add_scenario_flags(opts, false);
  opts.add_options()
      ("out", po::value<std::string>(&out_dir), "output folder (default results/<scenario name>-sweep)")
      ("jobs", po::value<int>(&jobs), "parallel runs (default: one per hardware thread)")
      ("quiet", "no progress lines");
  po::variables_map vm;
  if (!parse_args(usage, args, opts, {}, vm)) return 0;
  if (vm.count("jobs") && jobs < 1) core::throw_input_error("--jobs: expected an integer >= 1");
  if (vm.count("rates") == vm.count("rate-scales")) {
    core::throw_input_error("flowkv sweep: give exactly one of --rates (requests/s) and --rate-scales");
  }
  if (vm.count("rate-scale")) {
    core::throw_input_error("flowkv sweep: --rate-scale conflicts with the swept rates; use --rate-scales");
  }
  sim::SweepSpec spec;
  spec.scenario = scenario_path;
  spec.overrides = read_scenario_flags(vm);
  spec.policies = sim::split_list(policies, "--policies");
  spec.rates_are_scales = vm.count("rate-scales") > 0;
  const std::string flag = spec.rates_are_scales ? "--rate-scales" : "--rates";
  spec.rate_labels = sim::split_list(vm[spec.rates_are_scales ? "rate-scales" : "rates"].as<std::string>(), flag);
  spec.rates = parse_rates(spec.rate_labels, flag);
  spec.jobs = jobs;
  if (out_dir.empty()) {
    out_dir = (fs::path("results") / (core::load_scenario(scenario_path, spec.overrides).name + "-sweep")).string();
  }
  spec.out = out_dir;
  // Under mpirun the cells spread over the ranks (tools/flowkv/launch.h); rank 0 writes and prints.
  const std::unique_ptr<sim::Ranks> ranks = start_ranks("sweep");
  spec.ranks = ranks.get();
  if (!vm.count("quiet") && ::isatty(STDERR_FILENO) && ranks->root()) {
    spec.progress = [](size_t done, size_t all, const std::string& what) {
      std::fprintf(stderr, "[%zu/%zu] %s done\n", done, all, what.c_str());
    };
  }
  return run_ranked(*ranks, "sweep", [&] {
    const std::vector<sim::SweepCell> cells = sim::run_sweep(spec);
    if (!ranks->root()) return 0;
    print_result_header(stdout, "policy @ rate (req/s)");
    for (const sim::SweepCell& c : cells) {
      char label[96];
      std::snprintf(label, sizeof label, "%s @ %.3g", c.policy.c_str(), c.rate_rps);
      print_result_row(stdout, label, c.run.metrics);
    }
    std::printf("wrote %s/sweep.json and %s/<policy>/rate-<r>/\n", out_dir.c_str(), out_dir.c_str());
    if (ranks->size() > 1) std::fprintf(stderr, "sweep: %zu cells over %d MPI ranks\n", cells.size(), ranks->size());
    return 0;
  });
}

}  // namespace

FLOWKV_COMMAND("sweep", "run a grid of policies x arrival rates in parallel", sweep);

}  // namespace flowkv::cli
