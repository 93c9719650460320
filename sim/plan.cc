// run_plan: preparing the search (base scenario, SLOs, rate, trace, policies, grid), the waves,
// and the verdict on every candidate.
#include "sim/plan.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "core/base/error.h"
#include "core/sched/load_scenario.h"
#include "core/sched/policy_profile.h"
#include "core/spec/hardware_spec.h"
#include "sim/plan_internal.h"
#include "sim/run.h"
#include "traces/trace_summary.h"

namespace flowkv::sim {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace plan_internal;

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// The smallest number of good requests whose share of `total` reaches `target`, in the double
// arithmetic the verdict uses (good / total >= target).
int64_t required_good(int64_t total, double target) {
  int64_t g = static_cast<int64_t>(std::ceil(target * static_cast<double>(total)));
  g = std::clamp<int64_t>(g, 0, total);
  while (g > 0 && static_cast<double>(g - 1) / static_cast<double>(total) >= target) --g;
  while (g < total && static_cast<double>(g) / static_cast<double>(total) < target) ++g;
  return g;
}

// What every candidate shares: the scenario with the user's flags, the SLO and the rate set.
struct Setup {
  json base;                // before a shape, a policy or its profile is applied
  fs::path file;            // the scenario file
  fs::path base_dir;
  std::vector<std::string> sets;  // the --set assignments (the profile leaves their paths alone)
  double slo_ttft_s = 0, slo_tpot_s = 0;
  double rate_scale = 1, rate_rps = 0;
  uint64_t seed = 1;
  traces::Trace trace;
  std::vector<std::string> policies;
  std::vector<bool> colocated;    // per policy: its profile makes every node colocated
};

core::Scenario parse_with_profile(json j, const Setup& s) {
  core::apply_policy_profile(j, s.sets);
  return core::parse_scenario(j, s.file.string(), s.base_dir);
}

double number_or(const json& o, const char* key, double fallback) {
  const auto it = o.find(key);
  return it != o.end() && it->is_number() ? it->get<double>() : fallback;
}

Setup prepare(const PlanSpec& spec) {
  const core::ScenarioOverrides& o = spec.overrides;
  FLOWKV_CHECK(!o.policy, "the plan picks the policy itself");
  if (o.prefill_nodes || o.decode_nodes || o.colocated_nodes || o.gpu) {
    core::throw_input_error("flowkv plan: --prefill-nodes, --decode-nodes, --colocated-nodes and --gpu conflict with "
                            "the shapes the plan searches (use --gpus, --max-gpus and --tp)");
  }
  if (!o.faults.empty()) core::throw_input_error("flowkv plan: --fault is not supported (a plan searches fault-free shapes)");
  if (spec.rate_rps && o.rate_scale) core::throw_input_error("flowkv plan: give at most one of --rate and --rate-scale");
  if (!(spec.target > 0 && spec.target <= 1)) core::throw_input_error("--attainment: expected a number in (0, 1]");
  if (spec.gpus.empty()) core::throw_input_error("--gpus: expected at least one GPU:PRICE");
  if (spec.max_gpus < 1 || spec.max_gpus > 4096) core::throw_input_error("--max-gpus: expected an integer in [1, 4096]");
  for (int tp : spec.tensor_parallel) {
    if (tp < 1 || tp > 64) core::throw_input_error("--tp: expected integers in [1, 64], got " + std::to_string(tp));
  }
  if (spec.tensor_parallel.empty()) core::throw_input_error("--tp: expected at least one degree");

  Setup s;
  s.file = core::find_scenario_file(spec.scenario);
  s.base_dir = fs::absolute(s.file).parent_path();
  s.base = core::read_scenario_json(s.file);
  core::apply_flag_overrides(s.base, o);
  if (!s.base.contains("name")) s.base["name"] = s.file.stem().string();
  if (s.base.contains("faults") && !s.base["faults"].empty()) {
    core::throw_input_error(s.file.string() + ": faults: a plan searches fault-free shapes; remove them");
  }
  s.sets = o.sets;
  // The scenario as written (with the flags) gives the defaults: SLO, policy, rate. Its own
  // cluster is replaced (it need not fit: the plan picks the cluster) by 1P + 1D of the GPU with
  // the most memory at the largest TP, the shape most likely to hold the model.
  const core::GpuSpec* roomiest = nullptr;
  for (const GpuPrice& g : spec.gpus) {
    const core::GpuSpec& gpu = core::find_gpu(g.name);
    if (roomiest == nullptr || gpu.memory_bytes > roomiest->memory_bytes) roomiest = &gpu;
  }
  const int max_tp = *std::max_element(spec.tensor_parallel.begin(), spec.tensor_parallel.end());
  {
    nlohmann::json nodes = nlohmann::json::array();
    for (const char* role : {"prefill", "decode"}) {
      nodes.push_back({{"gpu", roomiest->name}, {"count", 1}, {"role", role}, {"tensor_parallel", max_tp}});
    }
    if (!s.base["cluster"].is_object()) s.base["cluster"] = json::object();
    s.base["cluster"]["nodes"] = std::move(nodes);
  }
  const core::Scenario written = parse_with_profile(s.base, s);
  s.slo_ttft_s = spec.slo_ttft_s.value_or(written.slo.ttft_s);
  s.slo_tpot_s = spec.slo_tpot_s.value_or(written.slo.tpot_s);
  if (!(s.slo_ttft_s > 0) || !(s.slo_tpot_s > 0)) core::throw_input_error("--slo-ttft, --slo-tpot: expected positive seconds");
  s.base["slo"] = json{{"ttft_s", s.slo_ttft_s}, {"tpot_s", s.slo_tpot_s}};
  if (!s.base["workload"].is_object()) core::throw_input_error(s.file.string() + ": workload: expected an object");
  s.rate_scale = number_or(s.base["workload"], "rate_scale", 1.0);
  if (spec.rate_rps) {
    if (!(*spec.rate_rps > 0)) core::throw_input_error("--rate: expected a positive number of requests/s");
    const traces::TraceSummary summary = traces::summarize(load_scenario_trace(written));
    if (!summary.rate_rps || !(*summary.rate_rps > 0)) {
      core::throw_input_error(s.file.string() + ": the workload has no mean arrival rate (all requests arrive at once); use --rate-scale");
    }
    s.rate_scale *= *spec.rate_rps / *summary.rate_rps;
    s.base["workload"]["rate_scale"] = s.rate_scale;
  }
  const core::Scenario rated = parse_with_profile(s.base, s);
  s.trace = load_scenario_trace(rated);
  s.seed = rated.seed;
  if (s.trace.requests.empty()) core::throw_input_error(s.file.string() + ": the workload has no request");
  s.rate_rps = traces::summarize(s.trace).rate_rps.value_or(0.0);

  s.policies = spec.policies.empty() ? std::vector<std::string>{written.global.name} : spec.policies;
  for (const std::string& p : s.policies) {
    json j = s.base;
    j["policies"]["global"] = p;
    core::apply_policy_profile(j, s.sets);
    (void)core::parse_scenario(j, s.file.string(), s.base_dir);  // an unknown policy is an error here
    bool all_colocated = true;
    for (const json& g : j["cluster"]["nodes"]) all_colocated = all_colocated && g.value("role", "") == "colocated";
    s.colocated.push_back(all_colocated);
  }
  return s;
}

Evaluation evaluate(const json& j, const Setup& s, int64_t stop_after) {
  const auto start = std::chrono::steady_clock::now();
  const core::Scenario sc = parse_with_profile(j, s);
  FLOWKV_CHECK(sc.workload == s.base["workload"] && sc.seed == s.seed,
               "a shape changed the workload; the shared trace would be wrong");
  SimOptions options;
  options.stop_after_slo_misses = stop_after;
  const SimResult r = simulate(sc, s.trace, options);
  Evaluation e;
  e.requests = static_cast<int64_t>(s.trace.requests.size());
  e.stopped_early = r.totals.stopped_early;
  e.arrived = r.totals.arrived;
  e.stopped_at_s = r.totals.end.seconds();
  const core::SloTally& t = r.totals.slo;
  e.missed_ttft = t.known_ttft_misses();
  e.missed_tpot = t.missed_tpot;
  e.failed = t.failed_before_first_token + t.failed_after_good_ttft;
  for (const char* reason : {"prompt_larger_than_any_prefill_pool", "request_larger_than_any_decode_pool"}) {
    const auto it = r.metrics.failed_by_reason.find(reason);
    if (it != r.metrics.failed_by_reason.end()) e.failed_memory += it->second;
  }
  e.preemptions = r.metrics.preemptions;
  e.good = e.requests - t.known_misses();  // exact after a full run, an upper bound after a stop
  e.attainment = static_cast<double>(e.good) / static_cast<double>(e.requests);
  if (!e.stopped_early) {
    e.goodput_rps = r.metrics.goodput_rps;
    e.ttft_p90_s = r.metrics.ttft.p90;
    e.tpot_p90_s = r.metrics.tpot.p90;
  }
  e.wall_s = seconds_since(start);
  return e;
}

// Rank 0's line after each wave.
void report_progress(const PlanSpec& spec, const PlanResult& r, int wave, double elapsed, double left) {
  if (!spec.progress) return;
  PlanProgress p;
  p.wave = wave;
  p.total = r.candidates.size();
  for (const Candidate& c : r.candidates) {
    if (c.status != CandidateStatus::kUndecided) ++p.decided;
    if (c.eval && !c.eval->unfit) {
      ++p.simulated;
      p.stopped_early += c.eval->stopped_early ? 1 : 0;
    }
  }
  p.best = r.best;
  if (r.best) {
    const Candidate& b = r.candidates[*r.best];
    char buf[64];
    std::snprintf(buf, sizeof buf, ", attainment %.3f", b.eval->attainment);
    p.best_text = cost_text(b.cost_micros) + " " + shape_text(b) + " (" + b.policy + ")" + buf;
  }
  p.elapsed_s = elapsed;
  p.left_s = left;
  spec.progress(p);
}

bool better(const Candidate& a, const Candidate& b) {  // as the best
  if (a.cost_micros != b.cost_micros) return a.cost_micros < b.cost_micros;
  if (a.eval->good != b.eval->good) return a.eval->good > b.eval->good;
  return a.id < b.id;
}

}  // namespace

PlanResult run_plan(const PlanSpec& spec, Ranks& ranks) {
  const auto start = std::chrono::steady_clock::now();
  Setup s = prepare(spec);
  Grid grid = make_grid(s.policies, s.colocated, spec.gpus, spec.tensor_parallel, spec.max_gpus);
  PlanResult r;
  r.candidates = std::move(grid.candidates);
  r.scenario_name = s.base.value("name", "scenario");
  const int64_t total = static_cast<int64_t>(s.trace.requests.size());
  const int64_t max_misses = total - required_good(total, spec.target);
  // Exhaustive runs still tally the misses (the verdict needs them) but never stop.
  const int64_t stop_after = spec.exhaustive ? std::numeric_limits<int64_t>::max() : max_misses;

  // A family whose smallest shape does not load (the model's weights do not fit its GPUs)
  // fails alike for every count: not simulated.
  for (Family& f : grid.families) {
    if (f.index.size() < 2 || f.index[1].size() < 2) continue;
    try {
      (void)parse_with_profile(candidate_json(s.base, f, Shape{1, 1}), s);
    } catch (const core::Error& e) {
      if (e.exit_code() != 2) throw;
      f.unfit = e.what();
    }
  }
  for (Candidate& c : r.candidates) {
    const Family& f = grid.families[c.family];
    if (!f.unfit) continue;
    c.status = CandidateStatus::kUnfit;
    c.eval = Evaluation{};
    c.eval->unfit = true;
    c.eval->unfit_message = *f.unfit;
    c.eval->requests = total;
  }

  std::vector<FamilySearch> searches;
  for (const Family& f : grid.families) searches.push_back(make_search(f, r.candidates));
  int64_t best_cost = INT64_MAX;
  auto settle = [&](size_t id, Evaluation e) {
    Candidate& c = r.candidates[id];
    const bool feasible = !e.stopped_early && e.good >= total - max_misses;
    c.status = feasible ? CandidateStatus::kFeasible : e.stopped_early ? CandidateStatus::kStopped : CandidateStatus::kRejected;
    r.simulate_s += e.wall_s;
    c.eval = std::move(e);
    if (feasible) {
      best_cost = std::min(best_cost, c.cost_micros);
      if (!r.best || better(c, r.candidates[*r.best])) r.best = id;
    }
    return feasible;
  };

  while (true) {
    // This wave: every unfinished family's next shape (the whole grid when exhaustive).
    std::vector<size_t> wave;
    std::vector<size_t> wave_family;
    for (size_t fi = 0; fi < grid.families.size(); ++fi) {
      if (grid.families[fi].unfit) continue;
      if (spec.exhaustive) {
        if (r.waves > 0) continue;
        for (const auto& row : grid.families[fi].index) {
          for (int id : row) {
            if (id >= 0) wave.push_back(static_cast<size_t>(id));
          }
        }
        continue;
      }
      if (const std::optional<Shape> sh = searches[fi].next(best_cost)) {
        wave.push_back(static_cast<size_t>(grid.families[fi].index[sh->p][sh->d]));
        wave_family.push_back(fi);
      }
    }
    if (wave.empty()) break;
    ++r.waves;
    const std::vector<std::string> results =
        run_on_ranks(ranks, wave.size(), spec.jobs, true, [&](size_t k) {
          const Candidate& c = r.candidates[wave[k]];
          return encode(evaluate(candidate_json(s.base, grid.families[c.family], shape_of(c)), s, stop_after));
        });
    for (size_t k = 0; k < wave.size(); ++k) {
      const bool feasible = settle(wave[k], decode(results[k]));
      if (!spec.exhaustive) searches[wave_family[k]].report(shape_of(r.candidates[wave[k]]), feasible);
    }
    if (ranks.root() && spec.progress) {
      // Left: the shapes still open in the searching families, at the mean simulation time.
      size_t simulated = 0, open = 0;
      for (const Candidate& c : r.candidates) {
        if (c.eval && !c.eval->unfit) ++simulated;
        if (c.status == CandidateStatus::kUndecided && c.cost_micros <= best_cost &&
            !searches[c.family].done()) {
          ++open;
        }
      }
      const double per = simulated > 0 ? r.simulate_s / static_cast<double>(simulated) : 0;
      const double parallel = std::max(1.0, static_cast<double>(spec.jobs > 0 ? spec.jobs : 1) * ranks.size());
      report_progress(spec, r, r.waves, seconds_since(start), spec.exhaustive ? 0 : per * static_cast<double>(open) / parallel);
    }
  }

  // The verdict on what was never simulated: dominated by a rejected shape of its family, or
  // costlier than the best (sim/plan_search.h says why nothing else can be left).
  for (Candidate& c : r.candidates) {
    if (c.status != CandidateStatus::kUndecided) continue;
    const Family& f = grid.families[c.family];
    const Shape sh = shape_of(c);
    for (size_t p = static_cast<size_t>(sh.p); p < f.index.size() && !c.pruned_by; ++p) {
      for (size_t d = static_cast<size_t>(sh.d); d < f.index[p].size(); ++d) {
        const int id = f.index[p][d];
        if (id < 0) continue;
        const CandidateStatus st = r.candidates[static_cast<size_t>(id)].status;
        if (st == CandidateStatus::kRejected || st == CandidateStatus::kStopped) {
          c.pruned_by = static_cast<size_t>(id);
          break;
        }
      }
    }
    if (c.pruned_by) {
      c.status = CandidateStatus::kDominated;
    } else {
      FLOWKV_CHECK(r.best && c.cost_micros > best_cost,
                   "candidate " + std::to_string(c.id) + " was neither simulated nor pruned");
      c.status = CandidateStatus::kCostlier;
    }
  }
  if (r.best) r.candidates[*r.best].status = CandidateStatus::kBest;
  // Simulated candidates first: a pruned one names the reason of the one that dominates it.
  for (const bool pruned : {false, true}) {
    for (Candidate& c : r.candidates) {
      if ((c.status == CandidateStatus::kDominated) == pruned) {
        explain(c, r.candidates, r.best, spec.target, max_misses, s.slo_ttft_s, s.slo_tpot_s);
      }
    }
  }
  for (Candidate& c : r.candidates) {
    switch (c.status) {
      case CandidateStatus::kStopped: ++r.stopped_early; [[fallthrough]];
      case CandidateStatus::kBest:
      case CandidateStatus::kFeasible:
      case CandidateStatus::kRejected: ++r.simulated; break;
      case CandidateStatus::kUnfit: ++r.unfit; break;
      case CandidateStatus::kDominated: ++r.dominated; break;
      case CandidateStatus::kCostlier: ++r.costlier; break;
      case CandidateStatus::kUndecided: break;
    }
  }

  // The frontier: candidates run to the end, by cost, each with more goodput than every cheaper one.
  std::vector<size_t> full;
  for (const Candidate& c : r.candidates) {
    if (c.eval && !c.eval->unfit && !c.eval->stopped_early) full.push_back(c.id);
  }
  std::sort(full.begin(), full.end(), [&](size_t a, size_t b) {
    const Candidate &x = r.candidates[a], &y = r.candidates[b];
    if (x.cost_micros != y.cost_micros) return x.cost_micros < y.cost_micros;
    if (x.eval->goodput_rps != y.eval->goodput_rps) return x.eval->goodput_rps > y.eval->goodput_rps;
    return a < b;
  });
  double top = -1;
  for (size_t id : full) {
    if (r.candidates[id].eval->goodput_rps > top) {
      r.frontier.push_back(id);
      top = r.candidates[id].eval->goodput_rps;
    }
  }

  r.target = nlohmann::ordered_json::object();
  r.target["scenario"] = r.scenario_name;
  r.target["slo"] = {{"ttft_s", s.slo_ttft_s}, {"tpot_s", s.slo_tpot_s}};
  r.target["attainment"] = spec.target;
  r.target["requests"] = total;
  r.target["max_misses"] = max_misses;
  r.target["rate_rps"] = core::round9(s.rate_rps);
  r.target["rate_scale"] = core::round9(s.rate_scale);
  r.target["workload"] = s.trace.source;
  if (r.best) {
    const Candidate& b = r.candidates[*r.best];
    json j = candidate_json(s.base, grid.families[b.family], shape_of(b));
    j["name"] = r.scenario_name + "-best";
    // Relative paths of the workload and model resolve against the scenario's folder: say
    // them absolutely when they are there, so the file works from OUT.
    auto absolutize = [&](json& v) {
      if (v.is_string() && !fs::path(v.get<std::string>()).is_absolute() && fs::exists(s.base_dir / v.get<std::string>())) {
        v = (s.base_dir / v.get<std::string>()).lexically_normal().string();
      }
    };
    if (j["workload"].contains("trace")) absolutize(j["workload"]["trace"]);
    if (j.contains("model")) absolutize(j["model"]);
    r.best_scenario = nlohmann::ordered_json::parse(j.dump());
  }
  r.wall_s = seconds_since(start);
  if (ranks.root()) write_plan_files(spec, r, spec.out);
  return r;
}

}  // namespace flowkv::sim
