// Sustained overload: 1M requests offered far faster than the cluster can serve them
// (scenarios/default's 2 prefill + 2 decode H100 at --rate requests/s, Azure-conversation
// lengths), so that queues grow for the whole run. The simulator must finish and stay within
// memory: its state per request is bounded (a record, a queue slot, a pool entry while in the
// system) and nothing grows per token (inter-token gaps go to a streaming histogram). Prints the
// offered and served rates, the peak number of requests in the system, wall and CPU time, and
// peak RSS in all and per request. Runs --sizes ascending in one process (peak RSS only grows),
// so the per-request figure of each size can be compared. Prints figures; never fails on time.
//
//   overload_bench [--requests N] [--rate R] [--sizes N1,N2,...] [--json FILE]
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/results/result_files.h"
#include "core/sched/load_scenario.h"
#include "sim/run.h"

using namespace flowkv;

namespace {

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Most requests arrived and not yet finished at any instant.
int64_t peak_in_system(const std::vector<core::RequestRecord>& records) {
  std::vector<std::pair<int64_t, int>> events;
  events.reserve(records.size() * 2);
  for (const core::RequestRecord& r : records) {
    if (r.prompt_tokens == 0) continue;
    events.emplace_back(r.arrival.ns(), +1);
    events.emplace_back(r.finish.value_or(r.arrival).ns(), -1);
  }
  std::sort(events.begin(), events.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second < b.second;  // finishes first
  });
  int64_t now = 0, peak = 0;
  for (const auto& e : events) {
    now += e.second;
    peak = std::max(peak, now);
  }
  return peak;
}

nlohmann::ordered_json run(int64_t requests, double rate) {
  core::ScenarioOverrides o;
  o.sets = {"workload={\"generator\": {\"arrival\": {\"process\": \"poisson\", \"rate\": " + std::to_string(rate) +
                "}, \"requests\": " + std::to_string(requests) +
                ", \"input\": {\"dist\": \"empirical\", \"trace\": \"traces/data/AzureLLMInferenceTrace_conv.csv\"}"
                ", \"output\": {\"dist\": \"empirical\", \"trace\": \"traces/data/AzureLLMInferenceTrace_conv.csv\"}}}",
            "name=overload"};
  const core::Scenario scenario = core::load_scenario("default", o);
  const traces::Trace trace = sim::load_scenario_trace(scenario);
  const double c0 = cpu_seconds();
  const sim::SimResult r = sim::simulate(scenario, trace);
  const double cpu = cpu_seconds() - c0;
  const core::RunMetrics& m = r.metrics;
  const double offered = trace.requests.empty() ? 0 : static_cast<double>(trace.requests.size()) /
                                                          std::max(1e-9, trace.requests.back().arrival.seconds());
  const int64_t peak = peak_in_system(r.records);
  const int64_t rss = core::peak_rss_bytes();
  std::printf("%8lld requests  offered %6.1f/s  served %6.1f/s (x%.1f overload)  peak in system %8lld  "
              "%lld completed %lld failed  %lld preemptions  simulate %6.2f s wall %6.2f s CPU  "
              "%5.2f M events  peak RSS %7.1f MB (%.0f B/request)\n",
              static_cast<long long>(m.total), offered, m.requests_per_s,
              m.requests_per_s > 0 ? offered / m.requests_per_s : 0.0, static_cast<long long>(peak),
              static_cast<long long>(m.completed), static_cast<long long>(m.failed),
              static_cast<long long>(m.preemptions), r.info.wall_s, cpu, static_cast<double>(r.info.events) / 1e6,
              static_cast<double>(rss) / 1e6, static_cast<double>(rss) / static_cast<double>(std::max<int64_t>(1, m.total)));
  std::fflush(stdout);
  nlohmann::ordered_json j;
  j["requests"] = m.total;
  j["offered_rps"] = offered;
  j["served_rps"] = m.requests_per_s;
  j["peak_in_system"] = peak;
  j["completed"] = m.completed;
  j["failed"] = m.failed;
  j["simulate_wall_s"] = r.info.wall_s;
  j["simulate_cpu_s"] = cpu;
  j["events"] = r.info.events;
  j["peak_rss_bytes"] = rss;
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> sizes = {100'000, 1'000'000};
  double rate = 100;
  std::string json_path;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--requests") {
      sizes = {std::atoll(argv[i + 1])};
    } else if (a == "--sizes") {
      sizes.clear();
      std::stringstream list(argv[i + 1]);
      for (std::string item; std::getline(list, item, ',');) sizes.push_back(std::atoll(item.c_str()));
    } else if (a == "--rate") {
      rate = std::atof(argv[i + 1]);
    } else if (a == "--json") {
      json_path = argv[i + 1];
    } else {
      std::fprintf(stderr, "overload_bench: unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  std::sort(sizes.begin(), sizes.end());
  try {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const int64_t n : sizes) out.push_back(run(n, rate));
    if (!json_path.empty()) std::ofstream(json_path) << out.dump(2) << "\n";
  } catch (const std::exception& e) {
    std::fprintf(stderr, "overload_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
