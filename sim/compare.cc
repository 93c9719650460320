#include "core/sched/load_scenario.h"
#include "sim/compare.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <iterator>
#include <map>
#include <mutex>
#include <sstream>
#include <optional>
#include <thread>

#include "core/base/error.h"
#include "core/results/result_files.h"
#include "sim/run.h"
#include "traces/trace_summary.h"

namespace flowkv::sim {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

// The folder name of a policy or rate label: refuse anything that would leave OUT.
void check_folder_name(const std::string& name, const std::string& what) {
  if (name.empty() || name == "." || name == ".." || name.find_first_of("/\\") != std::string::npos) {
    core::throw_input_error(what + " '" + name + "' cannot name a result folder");
  }
}

core::Scenario load_for(const fs::path& path, core::ScenarioOverrides o, const std::string& policy,
                        std::optional<double> rate_scale = std::nullopt) {
  o.policy = policy;
  if (rate_scale) o.rate_scale = rate_scale;
  return core::load_scenario(path, o);
}

RunOutcome simulate_into(const core::Scenario& scenario, const traces::Trace& trace, const std::string& policy,
                         const fs::path& dir, const TimelineRequest& timeline = {}) {
  core::OutputDir out(dir);
  SimOptions options;
  if (timeline.wanted) {
    options.timeline = &out.open("timeline.json");
    options.timeline_window = timeline.window;
  }
  SimResult r = simulate(scenario, trace, options);
  core::write_run_files(r, scenario, out);
  out.commit();
  RunOutcome o;
  o.policy = policy;
  o.dir = dir;
  o.metrics = std::move(r.metrics);
  o.summary = std::move(r.summary);
  return o;
}

// RunMetrics as JSON with every double exact, to carry a cell's figures between ranks.
nlohmann::json stat_json(const core::Stat& s) { return {s.mean, s.p50, s.p90, s.p99, s.count}; }
core::Stat stat_from(const nlohmann::json& j) {
  return core::Stat{j[0].get<double>(), j[1].get<double>(), j[2].get<double>(), j[3].get<double>(), j[4].get<int64_t>()};
}

nlohmann::json metrics_json(const core::RunMetrics& m) {
  nlohmann::json j;
  j["counts"] = {m.total, m.completed, m.failed, m.preempted, m.preemptions, m.retries, m.transfer_calls_total,
                 m.transfer_bytes_total, m.role_flips, m.elastic_joins, m.elastic_leaves, m.prefix_prompt_tokens,
                 m.prefix_hit_tokens, m.prefix_evictions, m.node_failures, m.recoveries.reprefill,
                 m.recoveries.retransfer, m.recoveries.reroute};
  j["rates"] = {m.makespan_s, m.requests_per_s, m.output_tokens_per_s, m.goodput_rps, m.slo_attainment, m.itl_std_s};
  j["failed_by_reason"] = m.failed_by_reason;
  j["stats"] = {stat_json(m.ttft), stat_json(m.tpot), stat_json(m.itl), stat_json(m.e2e), stat_json(m.queue),
                stat_json(m.transfer)};
  nlohmann::json nodes = nlohmann::json::array();
  for (const core::NodeMetrics& n : m.nodes) {
    nodes.push_back({n.name, n.gpu, static_cast<int>(n.initial_role), static_cast<int>(n.final_role), n.kv_blocks,
                     n.utilization, n.kv_usage_mean, n.kv_usage_peak, n.iterations, n.prefill_tokens, n.decode_tokens,
                     n.preemptions, n.transfers_out, n.transfers_in, n.role_flips, n.elastic_joins, n.elastic_leaves,
                     n.prefix_hit_tokens, n.failures});
  }
  j["nodes"] = std::move(nodes);
  return j;
}

core::RunMetrics metrics_from(const nlohmann::json& j) {
  core::RunMetrics m;
  const nlohmann::json& c = j["counts"];
  int64_t* counts[] = {&m.total, &m.completed, &m.failed, &m.preempted, &m.preemptions, &m.retries,
                       &m.transfer_calls_total, &m.transfer_bytes_total, &m.role_flips, &m.elastic_joins,
                       &m.elastic_leaves, &m.prefix_prompt_tokens, &m.prefix_hit_tokens, &m.prefix_evictions,
                       &m.node_failures, &m.recoveries.reprefill, &m.recoveries.retransfer, &m.recoveries.reroute};
  for (size_t i = 0; i < std::size(counts); ++i) *counts[i] = c[i].get<int64_t>();
  const nlohmann::json& r = j["rates"];
  double* rates[] = {&m.makespan_s, &m.requests_per_s, &m.output_tokens_per_s, &m.goodput_rps, &m.slo_attainment,
                    &m.itl_std_s};
  for (size_t i = 0; i < std::size(rates); ++i) *rates[i] = r[i].get<double>();
  m.failed_by_reason = j["failed_by_reason"].get<std::map<std::string, int64_t>>();
  core::Stat* stats[] = {&m.ttft, &m.tpot, &m.itl, &m.e2e, &m.queue, &m.transfer};
  for (size_t i = 0; i < std::size(stats); ++i) *stats[i] = stat_from(j["stats"][i]);
  for (const nlohmann::json& n : j["nodes"]) {
    core::NodeMetrics x;
    x.name = n[0].get<std::string>();
    x.gpu = n[1].get<std::string>();
    x.initial_role = static_cast<core::NodeRole>(n[2].get<int>());
    x.final_role = static_cast<core::NodeRole>(n[3].get<int>());
    x.kv_blocks = n[4].get<int64_t>();
    x.utilization = n[5].get<double>();
    x.kv_usage_mean = n[6].get<double>();
    x.kv_usage_peak = n[7].get<double>();
    int64_t* rest[] = {&x.iterations, &x.prefill_tokens, &x.decode_tokens, &x.preemptions, &x.transfers_out,
                       &x.transfers_in, &x.role_flips, &x.elastic_joins, &x.elastic_leaves, &x.prefix_hit_tokens,
                       &x.failures};
    for (size_t i = 0; i < std::size(rest); ++i) *rest[i] = n[8 + i].get<int64_t>();
    m.nodes.push_back(std::move(x));
  }
  return m;
}

void write_json(const fs::path& dir, const std::string& name, const ordered_json& j) {
  core::OutputDir out(dir);
  out.open(name) << j.dump(2) << '\n';
  out.commit();
}

}  // namespace

void run_parallel(size_t n, int jobs, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  size_t threads = jobs > 0 ? static_cast<size_t>(jobs) : std::max(1u, std::thread::hardware_concurrency());
  threads = std::min(threads, n);
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::vector<std::exception_ptr> errors(n);
  auto worker = [&] {
    while (!stop.load()) {
      const size_t i = next.fetch_add(1);
      if (i >= n) return;
      try {
        fn(i);
      } catch (...) {
        errors[i] = std::current_exception();
        stop.store(true);
      }
    }
  };
  if (threads == 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    pool.reserve(threads);
    for (size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
    for (std::thread& t : pool) t.join();
  }
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

std::vector<std::string> split_list(const std::string& text, const std::string& flag) {
  std::vector<std::string> items;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const size_t b = item.find_first_not_of(' '), e = item.find_last_not_of(' ');
    item = b == std::string::npos ? "" : item.substr(b, e - b + 1);
    if (item.empty()) core::throw_input_error(flag + " " + text + ": empty item (expected a,b,c)");
    if (std::find(items.begin(), items.end(), item) != items.end()) {
      core::throw_input_error(flag + " " + text + ": '" + item + "' is listed twice");
    }
    items.push_back(std::move(item));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return items;
}

std::vector<RunOutcome> run_compare(const CompareSpec& spec) {
  if (spec.policies.empty()) core::throw_input_error("--policies: expected at least one policy");
  FLOWKV_CHECK(!spec.overrides.policy, "compare sets the policy itself");
  std::vector<core::Scenario> scenarios;
  for (const std::string& p : spec.policies) {
    check_folder_name(p, "policy");
    scenarios.push_back(load_for(spec.scenario, spec.overrides, p));
  }
  // Profiles never touch the workload, so one trace serves every policy; load it per scenario
  // only if a workload or seed differs (a --set on policies could not, but stay correct).
  std::vector<std::optional<traces::Trace>> traces(scenarios.size());
  std::vector<size_t> trace_of(scenarios.size());
  for (size_t i = 0; i < scenarios.size(); ++i) {
    trace_of[i] = i;
    for (size_t j = 0; j < i; ++j) {
      if (scenarios[j].workload == scenarios[i].workload && scenarios[j].seed == scenarios[i].seed &&
          scenarios[j].base_dir == scenarios[i].base_dir) {
        trace_of[i] = trace_of[j];
        break;
      }
    }
    if (trace_of[i] == i) traces[i] = load_scenario_trace(scenarios[i]);
  }
  std::vector<RunOutcome> runs(scenarios.size());
  std::mutex progress_mutex;
  size_t done = 0;
  run_parallel(scenarios.size(), spec.jobs, [&](size_t i) {
    runs[i] = simulate_into(scenarios[i], *traces[trace_of[i]], spec.policies[i], spec.out / spec.policies[i],
                            spec.timeline);
    if (spec.progress) {
      std::lock_guard<std::mutex> lock(progress_mutex);
      spec.progress(++done, scenarios.size(), spec.policies[i]);
    }
  });
  ordered_json list = ordered_json::array();
  for (const RunOutcome& r : runs) {
    ordered_json o = ordered_json::object();
    o["name"] = r.policy;
    o["summary"] = r.summary;
    list.push_back(std::move(o));
  }
  ordered_json root = ordered_json::object();
  root["policies"] = std::move(list);
  write_json(spec.out, "compare.json", root);
  return runs;
}

std::vector<SweepCell> run_sweep(const SweepSpec& spec) {
  if (spec.policies.empty()) core::throw_input_error("--policies: expected at least one policy");
  if (spec.rates.empty()) core::throw_input_error("--rates: expected at least one rate");
  FLOWKV_CHECK(spec.rate_labels.size() == spec.rates.size(), "one label per rate");
  for (const std::string& l : spec.rate_labels) check_folder_name("rate-" + l, "rate");
  // The scenario's own mean rate, to turn requests/s into rate scales.
  double base_scale = 1.0, base_rate = 0.0;
  {
    const core::Scenario base = load_for(spec.scenario, spec.overrides, spec.policies.front());
    if (const auto it = base.workload.find("rate_scale"); it != base.workload.end() && it->is_number()) {
      base_scale = it->get<double>();
    }
    const traces::TraceSummary summary = traces::summarize(load_scenario_trace(base));
    if (!spec.rates_are_scales) {
      if (!summary.rate_rps || !(*summary.rate_rps > 0)) {
        core::throw_input_error(spec.scenario.string() +
                                ": the workload has no mean arrival rate (all requests arrive at once); use --rate-scales");
      }
      base_rate = *summary.rate_rps;
    }
  }
  std::vector<SweepCell> cells;
  std::vector<core::Scenario> scenarios;
  for (const std::string& p : spec.policies) {
    check_folder_name(p, "policy");
    for (size_t k = 0; k < spec.rates.size(); ++k) {
      if (!(spec.rates[k] > 0)) core::throw_input_error("--rates: expected positive numbers, got " + spec.rate_labels[k]);
      SweepCell c;
      c.policy = p;
      c.rate_label = spec.rate_labels[k];
      c.rate_scale = spec.rates_are_scales ? base_scale * spec.rates[k] : base_scale * spec.rates[k] / base_rate;
      scenarios.push_back(load_for(spec.scenario, spec.overrides, p, c.rate_scale));
      cells.push_back(std::move(c));
    }
  }
  std::mutex progress_mutex;
  size_t done = 0;
  if (spec.ranks != nullptr && spec.ranks->size() > 1) {
    // Each rank runs its cells and renders their files into memory; rank 0 writes them all.
    const std::vector<std::string> results = run_on_ranks(*spec.ranks, cells.size(), spec.jobs, false, [&](size_t i) {
      const traces::Trace trace = load_scenario_trace(scenarios[i]);
      SimResult r = simulate(scenarios[i], trace);
      std::map<std::string, std::ostringstream> files;
      core::write_run_files(r, scenarios[i], [&files](const std::string& name) -> std::ostream& { return files[name]; });
      nlohmann::json j;
      j["rate_rps"] = traces::summarize(trace).rate_rps.value_or(0.0);
      j["summary"] = r.summary.dump();
      j["metrics"] = metrics_json(r.metrics);
      for (auto& [name, text] : files) j["files"][name] = text.str();
      if (spec.progress && spec.ranks->root()) {
        std::lock_guard<std::mutex> lock(progress_mutex);
        spec.progress(++done, cells.size(), cells[i].policy + " rate " + cells[i].rate_label + " (rank 0)");
      }
      return j.dump();
    });
    if (!spec.ranks->root()) return {};
    for (size_t i = 0; i < cells.size(); ++i) {
      SweepCell& c = cells[i];
      const nlohmann::json j = nlohmann::json::parse(results[i]);
      c.rate_rps = j["rate_rps"].get<double>();
      const fs::path rel = fs::path(c.policy) / ("rate-" + c.rate_label);
      core::OutputDir out(spec.out / rel);
      for (const auto& [name, text] : j["files"].items()) out.open(name) << text.get<std::string>();
      out.commit();
      c.run.policy = c.policy;
      c.run.dir = spec.out / rel;
      c.run.metrics = metrics_from(j["metrics"]);
      c.run.summary = ordered_json::parse(j["summary"].get<std::string>());
    }
  }
  if (spec.ranks == nullptr || spec.ranks->size() == 1) run_parallel(cells.size(), spec.jobs, [&](size_t i) {
    SweepCell& c = cells[i];
    const traces::Trace trace = load_scenario_trace(scenarios[i]);
    const traces::TraceSummary summary = traces::summarize(trace);
    c.rate_rps = summary.rate_rps.value_or(0.0);
    const fs::path rel = fs::path(c.policy) / ("rate-" + c.rate_label);
    c.run = simulate_into(scenarios[i], trace, c.policy, spec.out / rel);
    if (spec.progress) {
      std::lock_guard<std::mutex> lock(progress_mutex);
      spec.progress(++done, cells.size(), c.policy + " rate " + c.rate_label);
    }
  });
  ordered_json list = ordered_json::array();
  for (const SweepCell& c : cells) {
    ordered_json o = ordered_json::object();
    o["policy"] = c.policy;
    o["rate_scale"] = core::round9(c.rate_scale);
    o["rate_rps"] = core::round9(c.rate_rps);
    o["dir"] = (fs::path(c.policy) / ("rate-" + c.rate_label)).generic_string();
    list.push_back(std::move(o));
  }
  ordered_json root = ordered_json::object();
  root["cells"] = std::move(list);
  write_json(spec.out, "sweep.json", root);
  return cells;
}

}  // namespace flowkv::sim
