// flowkv plan: the cheapest cluster shape that serves a scenario's workload within its SLOs,
// found by simulating candidates (sim/plan.h, docs/planning.md); on all cores, and over MPI
// ranks when launched by mpirun.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "core/base/error.h"
#include "sim/compare.h"
#include "sim/plan.h"
#include "tools/flowkv/command.h"
#include "tools/flowkv/launch.h"
#include "tools/flowkv/scenario_flags.h"

namespace flowkv::cli {
namespace {

namespace fs = std::filesystem;

std::vector<int> parse_ints(const std::string& text, const std::string& flag) {
  std::vector<int> out;
  for (const std::string& item : sim::split_list(text, flag)) {
    char* end = nullptr;
    const long v = std::strtol(item.c_str(), &end, 10);
    if (end != item.c_str() + item.size() || v < 1 || v > 64) {
      core::throw_input_error(flag + ": expected integers in [1, 64], got '" + item + "'");
    }
    out.push_back(static_cast<int>(v));
  }
  return out;
}

std::string price_list(const std::vector<sim::GpuPrice>& gpus) {
  std::string t;
  for (const sim::GpuPrice& g : gpus) t += (t.empty() ? "" : ", ") + g.name + " " + sim::cost_text(g.micros_per_hour);
  return t;
}

void print_plan(const sim::PlanSpec& spec, const sim::PlanResult& r) {
  const auto& t = r.target;
  std::printf("plan %s: %lld requests at %.3g req/s; SLO TTFT <= %g s and TPOT <= %g s for >= %g%% of all requests\n",
              r.scenario_name.c_str(), static_cast<long long>(t["requests"].get<int64_t>()), t["rate_rps"].get<double>(),
              t["slo"]["ttft_s"].get<double>(), t["slo"]["tpot_s"].get<double>(), spec.target * 100);
  std::printf("grid: %zu candidates (GPUs %s; TP per role", r.candidates.size(), price_list(spec.gpus).c_str());
  for (size_t i = 0; i < spec.tensor_parallel.size(); ++i) std::printf("%s%d", i ? "," : " ", spec.tensor_parallel[i]);
  std::printf("; <= %d GPUs)\n", spec.max_gpus);
  std::printf("searched in %d waves (%s): %zu simulated (%zu stopped early), %zu unfit, %zu pruned as dominated by a "
              "rejected shape, %zu pruned as costlier than the best\n",
              r.waves, spec.exhaustive ? "exhaustive" : "pruned", r.simulated, r.stopped_early, r.unfit, r.dominated,
              r.costlier);
  if (!r.best) {
    std::printf("best: none: no candidate of the grid reaches the target (see candidates.csv for why)\n");
    return;
  }
  const sim::Candidate& b = r.candidates[*r.best];
  std::printf("best: %s  %s (%s): attainment %.4g, goodput %.4g req/s, p90 TTFT %.3g s, p90 TPOT %.3g s\n",
              sim::cost_text(b.cost_micros).c_str(), sim::shape_text(b).c_str(), b.policy.c_str(), b.eval->attainment,
              b.eval->goodput_rps, b.eval->ttft_p90_s, b.eval->tpot_p90_s);
  std::map<std::string, int> reasons;
  size_t cheaper = 0;
  for (const sim::Candidate& c : r.candidates) {
    if (c.cost_micros < b.cost_micros) {
      ++cheaper;
      ++reasons[c.reason];
    }
  }
  std::string by;
  for (const auto& [reason, n] : reasons) by += (by.empty() ? "" : ", ") + reason + " " + std::to_string(n);
  std::printf("cheaper candidates: %zu, all rejected (%s)\n", cheaper, by.c_str());
  std::printf("frontier (cost against goodput, candidates run to the end):\n");
  std::printf("  %10s %10s %8s  %s\n", "cost", "goodput", "attain", "shape (policy)");
  for (size_t id : r.frontier) {
    const sim::Candidate& c = r.candidates[id];
    std::printf("  %10s %10.4g %8.4f  %s (%s)%s\n", sim::cost_text(c.cost_micros).c_str(), c.eval->goodput_rps,
                c.eval->attainment, sim::shape_text(c).c_str(), c.policy.c_str(), id == *r.best ? "  <- best" : "");
  }
}

int plan(const Args& args) {
  const std::string usage =
      std::string("flowkv plan --scenario FILE --gpus GPU:PRICE[,GPU:PRICE...] [--slo-ttft S] [--slo-tpot S] "
                  "[--attainment A] [--rate R | --rate-scale X] [--max-gpus N] [--policies a,b] [--tp 1,2,4,8] "
                  "[--exhaustive] [--jobs N] [--out DIR] [--quiet] ") +
      "[--trace FILE] [--trace-format F] [--model NAME] [--seed S] [--set json.path=value]...";
  po::options_description opts("options");
  std::string scenario_path, out_dir, gpus, policies, tps = "1";
  int jobs = 0, max_gpus = 16;
  double target = 0.9;
  opts.add_options()
      ("scenario", po::value<std::string>(&scenario_path)->required(), "scenario JSON file (or a name under scenarios/)")
      ("gpus", po::value<std::string>(&gpus)->required(), "GPU types and their price per GPU-hour, e.g. H100-SXM:2.99,H200:3.79")
      ("slo-ttft", po::value<double>(), "TTFT SLO in seconds (default: the scenario's slo.ttft_s)")
      ("slo-tpot", po::value<double>(), "TPOT SLO in seconds (default: the scenario's slo.tpot_s)")
      ("attainment", po::value<double>(&target), "share of all requests that must meet both SLOs (default 0.9)")
      ("rate", po::value<double>(), "offered load: mean arrival rate in requests/s (the workload is rescaled)")
      ("max-gpus", po::value<int>(&max_gpus), "most GPUs a candidate may use (default 16)")
      ("policies", po::value<std::string>(&policies), "global policies to try, comma-separated (default: the scenario's)")
      ("tp", po::value<std::string>(&tps), "tensor-parallel degrees to try per role, comma-separated (default 1)")
      ("exhaustive", "simulate the whole grid to the end: no pruning, no early stop (the reference)");
  add_scenario_flags(opts, false);
  opts.add_options()
      ("out", po::value<std::string>(&out_dir), "output folder (default results/<scenario name>-plan)")
      ("jobs", po::value<int>(&jobs), "parallel simulations per process (default: one per hardware thread)")
      ("quiet", "no progress lines");
  po::variables_map vm;
  if (!parse_args(usage, args, opts, {}, vm)) return 0;
  if (vm.count("jobs") && jobs < 1) core::throw_input_error("--jobs: expected an integer >= 1");
  if (vm.count("max-gpus") && (max_gpus < 1 || max_gpus > 4096)) core::throw_input_error("--max-gpus: expected an integer in [1, 4096]");
  if (!(target > 0 && target <= 1)) core::throw_input_error("--attainment: expected a number in (0, 1]");
  sim::PlanSpec spec;
  spec.scenario = scenario_path;
  spec.overrides = read_scenario_flags(vm);
  if (vm.count("slo-ttft")) {
    spec.slo_ttft_s = vm["slo-ttft"].as<double>();
    if (!(*spec.slo_ttft_s > 0)) core::throw_input_error("--slo-ttft: expected a positive number of seconds");
  }
  if (vm.count("slo-tpot")) {
    spec.slo_tpot_s = vm["slo-tpot"].as<double>();
    if (!(*spec.slo_tpot_s > 0)) core::throw_input_error("--slo-tpot: expected a positive number of seconds");
  }
  if (vm.count("rate")) {
    spec.rate_rps = vm["rate"].as<double>();
    if (!(*spec.rate_rps > 0) || *spec.rate_rps > 1e9) core::throw_input_error("--rate: expected a positive number of requests/s");
    if (vm.count("rate-scale")) core::throw_input_error("flowkv plan: give at most one of --rate and --rate-scale");
  }
  spec.target = target;
  spec.gpus = sim::parse_gpu_prices(gpus, "--gpus");
  spec.max_gpus = max_gpus;
  if (vm.count("policies")) spec.policies = sim::split_list(policies, "--policies");
  spec.tensor_parallel = parse_ints(tps, "--tp");
  spec.exhaustive = vm.count("exhaustive") > 0;
  spec.jobs = jobs;
  if (out_dir.empty()) {
    out_dir = (fs::path("results") / (fs::path(scenario_path).stem().string() + "-plan")).string();
  }
  spec.out = out_dir;
  const std::unique_ptr<sim::Ranks> ranks = start_ranks("plan");
  if (!vm.count("quiet") && ::isatty(STDERR_FILENO) && ranks->root()) {
    spec.progress = [](const sim::PlanProgress& p) {
      std::fprintf(stderr, "[plan] wave %d: %zu/%zu decided, %zu simulated (%zu stopped early)%s%s, %.0f s elapsed",
                   p.wave, p.decided, p.total, p.simulated, p.stopped_early, p.best ? ", best so far " : "",
                   p.best_text.c_str(), p.elapsed_s);
      if (p.left_s > 0) std::fprintf(stderr, ", at most ~%.0f s left", p.left_s);
      std::fprintf(stderr, "\n");
    };
  }
  return run_ranked(*ranks, "plan", [&] {
    const sim::PlanResult r = sim::run_plan(spec, *ranks);
    if (!ranks->root()) return 0;
    print_plan(spec, r);
    if (r.best) {
      std::printf("confirm: flowkv simulate --scenario %s (its result is %s)\n",
                  (fs::path(out_dir) / "best-scenario.json").string().c_str(), (fs::path(out_dir) / "best").string().c_str());
    }
    std::printf("wrote %s/{plan.json,candidates.csv,plan-run.json%s}\n", out_dir.c_str(),
                r.best ? ",best-scenario.json,best/" : "");
    if (ranks->size() > 1) std::fprintf(stderr, "plan: candidates spread over %d MPI ranks\n", ranks->size());
    return 0;
  });
}

}  // namespace

FLOWKV_COMMAND("plan", "find the cheapest cluster shape that meets the SLOs, by simulation", plan);

}  // namespace flowkv::cli
