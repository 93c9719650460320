#include "core/sched/load_scenario.h"
#include "sim/compare.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
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
  run_parallel(cells.size(), spec.jobs, [&](size_t i) {
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
