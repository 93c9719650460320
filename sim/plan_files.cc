// What the planner says about each candidate, and the files it writes (docs/planning.md):
//   OUT/plan.json           target, best (with a scenario `flowkv simulate` accepts), frontier,
//                           every candidate with its verdict; deterministic
//   OUT/candidates.csv      the same candidates, one row each, by cost
//   OUT/best-scenario.json  the best shape as a scenario file
//   OUT/best/               `flowkv simulate --scenario OUT/best-scenario.json`'s result folder
//   OUT/plan-run.json       wall and simulation time, candidates per second (differs run to run)
#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/base/error.h"
#include "core/results/result_files.h"
#include "core/results/run.h"
#include "core/sched/load_scenario.h"
#include "sim/plan_internal.h"
#include "sim/run.h"

namespace flowkv::sim::plan_internal {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

std::string count(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (v < 0 ? "-" : "") + out;
}

std::string num(double v, const char* format = "%.3g") {
  char buf[48];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// "1.2 s", "85 ms"
std::string secs(double s) { return s >= 1 ? num(s, "%.3g") + " s" : num(s * 1e3, "%.3g") + " ms"; }

// The cause with the most misses.
std::string main_cause(const Evaluation& e) {
  const std::pair<const char*, int64_t> causes[] = {
      {"ttft", e.missed_ttft}, {"tpot", e.missed_tpot}, {"memory", e.failed_memory}, {"failures", e.failed - e.failed_memory}};
  const char* best = "ttft";
  int64_t most = -1;
  for (const auto& [name, n] : causes) {
    if (n > most) {
      most = n;
      best = name;
    }
  }
  return best;
}

std::string causes_text(const Evaluation& e, double slo_ttft_s, double slo_tpot_s, bool with_percentiles) {
  std::string t;
  auto add = [&](const std::string& part) { t += (t.empty() ? "" : ", ") + part; };
  if (e.missed_ttft > 0) {
    add(count(e.missed_ttft) + " missed TTFT" +
        (with_percentiles ? " (p90 " + secs(e.ttft_p90_s) + ", SLO " + secs(slo_ttft_s) + ")" : ""));
  }
  if (e.missed_tpot > 0) {
    add(count(e.missed_tpot) + " missed TPOT" +
        (with_percentiles ? " (p90 " + secs(e.tpot_p90_s) + ", SLO " + secs(slo_tpot_s) + ")" : ""));
  }
  if (e.failed > 0) {
    add(count(e.failed) + " failed" +
        (e.failed_memory > 0 ? " (" + count(e.failed_memory) + " larger than any node's KV pool)" : ""));
  }
  if (e.preemptions > 0 && with_percentiles) add(count(e.preemptions) + " preemptions");
  return t.empty() ? "no miss" : t;
}

ordered_json eval_json(const Candidate& c) {
  ordered_json j = ordered_json::object();
  const Evaluation& e = *c.eval;
  if (e.unfit || e.stopped_early) {
    j["attainment"] = nullptr;
    if (e.stopped_early) j["attainment_at_most"] = core::round9(e.attainment);
    j["goodput_rps"] = nullptr;
  } else {
    j["attainment"] = core::round9(e.attainment);
    j["goodput_rps"] = core::round9(e.goodput_rps);
  }
  return j;
}

ordered_json role_json(const RoleShape& r) {
  if (r.count == 0) return nullptr;
  ordered_json j = ordered_json::object();
  j["gpu"] = r.gpu;
  j["tensor_parallel"] = r.tp;
  j["nodes"] = r.count;
  return j;
}

ordered_json summary_json(const Candidate& c) {
  ordered_json j = ordered_json::object();
  j["shape"] = shape_text(c);
  j["policy"] = c.policy;
  j["prefill"] = role_json(c.prefill);
  j["decode"] = role_json(c.decode);
  j["colocated"] = role_json(c.colocated_nodes);
  j["gpus"] = c.gpus;
  return j;
}

ordered_json candidate_json_out(const Candidate& c) {
  ordered_json j = ordered_json::object();
  j["id"] = c.id;
  j["scenario_summary"] = summary_json(c);
  j["cost_per_hour"] = core::round9(static_cast<double>(c.cost_micros) / 1e6);
  j["status"] = to_string(c.status);
  if (c.eval) {
    const ordered_json verdict = eval_json(c);
    for (const auto& [k, v] : verdict.items()) j[k] = v;
    if (!c.eval->unfit) {
      const Evaluation& e = *c.eval;
      ordered_json m = ordered_json::object();
      m["ttft"] = e.missed_ttft;
      m["tpot"] = e.missed_tpot;
      m["failed"] = e.failed;
      m["failed_memory"] = e.failed_memory;
      j["misses"] = std::move(m);
      if (e.stopped_early) {
        j["stopped_at_s"] = core::round9(e.stopped_at_s);
        j["arrived_at_stop"] = e.arrived;
      }
    }
  } else {
    j["attainment"] = nullptr;
    j["goodput_rps"] = nullptr;
  }
  if (c.pruned_by) j["pruned_by"] = *c.pruned_by;
  j["reason"] = c.reason;
  j["rejected_because"] = c.rejected_because;
  return j;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char ch : s) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return q + "\"";
}

std::string fixed9(double v) { return num(core::round9(v), "%.9g"); }

}  // namespace

std::string encode(const Evaluation& e) {
  json j;
  j["unfit"] = e.unfit;
  j["unfit_message"] = e.unfit_message;
  j["stopped_early"] = e.stopped_early;
  j["requests"] = e.requests;
  j["arrived"] = e.arrived;
  j["stopped_at_s"] = e.stopped_at_s;
  j["good"] = e.good;
  j["attainment"] = e.attainment;
  j["goodput_rps"] = e.goodput_rps;
  j["missed_ttft"] = e.missed_ttft;
  j["missed_tpot"] = e.missed_tpot;
  j["failed"] = e.failed;
  j["failed_memory"] = e.failed_memory;
  j["ttft_p90_s"] = e.ttft_p90_s;
  j["tpot_p90_s"] = e.tpot_p90_s;
  j["preemptions"] = e.preemptions;
  j["wall_s"] = e.wall_s;
  return j.dump();  // doubles round-trip exactly
}

Evaluation decode(const std::string& text) {
  const json j = json::parse(text);
  Evaluation e;
  e.unfit = j.at("unfit").get<bool>();
  e.unfit_message = j.at("unfit_message").get<std::string>();
  e.stopped_early = j.at("stopped_early").get<bool>();
  e.requests = j.at("requests").get<int64_t>();
  e.arrived = j.at("arrived").get<int64_t>();
  e.stopped_at_s = j.at("stopped_at_s").get<double>();
  e.good = j.at("good").get<int64_t>();
  e.attainment = j.at("attainment").get<double>();
  e.goodput_rps = j.at("goodput_rps").get<double>();
  e.missed_ttft = j.at("missed_ttft").get<int64_t>();
  e.missed_tpot = j.at("missed_tpot").get<int64_t>();
  e.failed = j.at("failed").get<int64_t>();
  e.failed_memory = j.at("failed_memory").get<int64_t>();
  e.ttft_p90_s = j.at("ttft_p90_s").get<double>();
  e.tpot_p90_s = j.at("tpot_p90_s").get<double>();
  e.preemptions = j.at("preemptions").get<int64_t>();
  e.wall_s = j.at("wall_s").get<double>();
  return e;
}

void explain(Candidate& c, const std::vector<Candidate>& all, std::optional<size_t> best, double target,
             int64_t max_misses, double slo_ttft_s, double slo_tpot_s) {
  const Evaluation* e = c.eval ? &*c.eval : nullptr;
  switch (c.status) {
    case CandidateStatus::kBest:
      c.reason = "";
      c.rejected_because = "";
      return;
    case CandidateStatus::kFeasible: {
      const Candidate& b = all[*best];
      c.reason = "";
      c.rejected_because = c.cost_micros > b.cost_micros
                               ? "meets the target but costs " + cost_text(c.cost_micros) + ", more than the best (" +
                                     cost_text(b.cost_micros) + ")"
                               : "meets the target at the best's cost, with lower attainment (or a later id)";
      return;
    }
    case CandidateStatus::kRejected:
      c.reason = main_cause(*e);
      c.rejected_because = "attainment " + num(e->attainment, "%.4g") + " < " + num(target, "%.4g") + ": " +
                           causes_text(*e, slo_ttft_s, slo_tpot_s, true);
      return;
    case CandidateStatus::kStopped: {
      c.reason = main_cause(*e);
      const double share = e->requests > 0 ? 100.0 * static_cast<double>(e->arrived) / static_cast<double>(e->requests) : 0;
      c.rejected_because = "stopped early at " + num(share, "%.0f") + "% of the arrivals (t = " + num(e->stopped_at_s, "%.0f") +
                           " s): at least " + count(e->requests - e->good) + " requests miss (" +
                           causes_text(*e, slo_ttft_s, slo_tpot_s, false) + "), more than the " + count(max_misses) +
                           " that attainment " + num(target, "%.4g") + " allows";
      return;
    }
    case CandidateStatus::kUnfit:
      c.reason = e->unfit_message.find("weights") != std::string::npos ? "memory" : "unfit";
      c.rejected_because = "does not load: " + e->unfit_message;
      return;
    case CandidateStatus::kDominated: {
      const Candidate& d = all[*c.pruned_by];
      c.reason = "dominated";
      c.rejected_because = "pruned: no more nodes of any role than #" + std::to_string(d.id) + " (" + shape_text(d) +
                           "), which was rejected (" + d.reason + ")";
      return;
    }
    case CandidateStatus::kCostlier:
      c.reason = "costlier";
      c.rejected_because = "pruned: costs " + cost_text(c.cost_micros) + ", more than the best (" +
                           cost_text(all[*best].cost_micros) + ")";
      return;
    case CandidateStatus::kUndecided:
      FLOWKV_CHECK(false, "a candidate left undecided");
  }
}

void write_plan_files(const PlanSpec& spec, const PlanResult& r, const fs::path& out) {
  // The best shape's run, exactly as `flowkv simulate --scenario OUT/best-scenario.json` makes it.
  if (r.best) {
    json root = json::parse(r.best_scenario.dump());
    core::apply_overrides(root, {});
    const fs::path file = fs::absolute(out / "best-scenario.json");
    const core::Scenario sc = core::parse_scenario(root, file.string(), file.parent_path());
    const traces::Trace trace = load_scenario_trace(sc);
    const SimResult run = simulate(sc, trace);
    core::write_run_files(run, sc, out / "best");
  }

  ordered_json plan = ordered_json::object();
  plan["target"] = r.target;
  ordered_json search = ordered_json::object();
  ordered_json gpus = ordered_json::array();
  for (const GpuPrice& g : spec.gpus) {
    gpus.push_back({{"name", g.name}, {"price_per_hour", core::round9(static_cast<double>(g.micros_per_hour) / 1e6)}});
  }
  search["gpus"] = std::move(gpus);
  search["max_gpus"] = spec.max_gpus;
  ordered_json policies = ordered_json::array();
  for (const Candidate& c : r.candidates) {
    if (policies.empty() || policies.back() != c.policy) {
      bool seen = false;
      for (const auto& p : policies) seen = seen || p == c.policy;
      if (!seen) policies.push_back(c.policy);
    }
  }
  search["policies"] = std::move(policies);
  search["tensor_parallel"] = spec.tensor_parallel;
  search["mode"] = spec.exhaustive ? "exhaustive" : "pruned";
  search["grid"] = r.candidates.size();
  search["simulated"] = r.simulated;
  search["stopped_early"] = r.stopped_early;
  search["unfit"] = r.unfit;
  search["pruned_dominated"] = r.dominated;
  search["pruned_costlier"] = r.costlier;
  search["waves"] = r.waves;
  plan["search"] = std::move(search);
  if (r.best) {
    const Candidate& b = r.candidates[*r.best];
    ordered_json best = ordered_json::object();
    best["id"] = b.id;
    best["scenario"] = r.best_scenario;
    best["scenario_summary"] = summary_json(b);
    best["cost_per_hour"] = core::round9(static_cast<double>(b.cost_micros) / 1e6);
    best["attainment"] = core::round9(b.eval->attainment);
    best["goodput_rps"] = core::round9(b.eval->goodput_rps);
    best["ttft_p90_s"] = core::round9(b.eval->ttft_p90_s);
    best["tpot_p90_s"] = core::round9(b.eval->tpot_p90_s);
    best["run"] = "best";
    plan["best"] = std::move(best);
  } else {
    plan["best"] = nullptr;
  }
  ordered_json frontier = ordered_json::array();
  for (size_t id : r.frontier) {
    const Candidate& c = r.candidates[id];
    ordered_json f = ordered_json::object();
    f["id"] = c.id;
    f["shape"] = shape_text(c);
    f["policy"] = c.policy;
    f["cost_per_hour"] = core::round9(static_cast<double>(c.cost_micros) / 1e6);
    f["goodput_rps"] = core::round9(c.eval->goodput_rps);
    f["attainment"] = core::round9(c.eval->attainment);
    f["status"] = to_string(c.status);
    frontier.push_back(std::move(f));
  }
  plan["frontier"] = std::move(frontier);
  ordered_json list = ordered_json::array();
  for (const Candidate& c : r.candidates) list.push_back(candidate_json_out(c));
  plan["candidates"] = std::move(list);

  // candidates.csv, cheapest first.
  std::vector<size_t> order(r.candidates.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return r.candidates[a].cost_micros < r.candidates[b].cost_micros;
  });
  std::ostringstream csv;
  csv << "id,policy,prefill_gpu,prefill_tp,prefill_nodes,decode_gpu,decode_tp,decode_nodes,colocated_gpu,colocated_tp,"
         "colocated_nodes,gpus,cost_per_hour,status,attainment,goodput_rps,ttft_p90_s,tpot_p90_s,missed_ttft,missed_tpot,"
         "failed,reason,rejected_because\n";
  for (size_t i : order) {
    const Candidate& c = r.candidates[i];
    auto role = [&](const RoleShape& s) {
      return s.count == 0 ? std::string(",,") : s.gpu + "," + std::to_string(s.tp) + "," + std::to_string(s.count);
    };
    csv << c.id << ',' << csv_field(c.policy) << ',' << role(c.prefill) << ',' << role(c.decode) << ','
        << role(c.colocated_nodes) << ',' << c.gpus << ',' << fixed9(static_cast<double>(c.cost_micros) / 1e6) << ','
        << to_string(c.status) << ',';
    const Evaluation* e = c.eval && !c.eval->unfit ? &*c.eval : nullptr;
    const bool full = e != nullptr && !e->stopped_early;
    csv << (full ? fixed9(e->attainment) : "") << ',' << (full ? fixed9(e->goodput_rps) : "") << ','
        << (full ? fixed9(e->ttft_p90_s) : "") << ',' << (full ? fixed9(e->tpot_p90_s) : "") << ','
        << (e ? std::to_string(e->missed_ttft) : "") << ',' << (e ? std::to_string(e->missed_tpot) : "") << ','
        << (e ? std::to_string(e->failed) : "") << ',' << c.reason << ',' << csv_field(c.rejected_because) << '\n';
  }

  ordered_json run = ordered_json::object();
  run["wall_s"] = r.wall_s;
  run["simulate_s"] = r.simulate_s;
  run["simulated"] = r.simulated;
  run["simulated_per_wall_s"] = r.wall_s > 0 ? static_cast<double>(r.simulated) / r.wall_s : 0.0;
  run["decided_per_wall_s"] = r.wall_s > 0 ? static_cast<double>(r.candidates.size()) / r.wall_s : 0.0;
  run["jobs"] = spec.jobs;
  run["peak_rss_bytes"] = core::peak_rss_bytes();

  core::OutputDir dir(out);
  dir.open("plan.json") << plan.dump(2) << '\n';
  dir.open("candidates.csv") << csv.str();
  if (r.best) dir.open("best-scenario.json") << r.best_scenario.dump(2) << '\n';
  dir.open("plan-run.json") << run.dump(2) << '\n';
  dir.commit();
}

}  // namespace flowkv::sim::plan_internal
