// Simulator speed: replays the real Azure conversation trace (19,366 requests, scenarios/default)
// and a synthetic trace of 1M requests (Azure-conversation lengths resampled, Poisson arrivals, on
// a 16-GPU cluster), and prints requests per wall second, events per second and peak memory.
// Goal (issue 4): 1M requests in <= 3 s on one core and <= 200 MB. Prints figures; never fails
// on time.
//
//   sim_bench [--requests N] [--rate R] [--json FILE]
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "core/results/result_files.h"
#include "core/sched/load_scenario.h"
#include "sim/run.h"

using namespace flowkv;

namespace {

struct Figure {
  std::string name;
  int64_t requests = 0;
  double load_s = 0;
  double sim_s = 0;
  double cpu_s = 0;  // CPU time of the simulation (the wall time counts other processes too)
  int64_t events = 0;
  int64_t peak_rss = 0;
  double simulated_s = 0;
};

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

Figure run(const std::string& name, const core::Scenario& scenario) {
  Figure f;
  f.name = name;
  const auto t0 = std::chrono::steady_clock::now();
  const traces::Trace trace = sim::load_scenario_trace(scenario);
  const auto t1 = std::chrono::steady_clock::now();
  const double c0 = cpu_seconds();
  const sim::SimResult r = sim::simulate(scenario, trace);
  f.cpu_s = cpu_seconds() - c0;
  f.load_s = std::chrono::duration<double>(t1 - t0).count();
  f.sim_s = r.info.wall_s;
  f.requests = r.info.requests;
  f.events = r.info.events;
  f.peak_rss = core::peak_rss_bytes();
  f.simulated_s = r.metrics.makespan_s;
  std::printf("%-22s %9lld requests  load %5.2f s  simulate %6.2f s wall %6.2f s CPU  %9.0f requests/s  "
              "%6.2f M events/s (CPU)  peak RSS %6.1f MB  (%.0f s simulated, %lld completed)\n",
              name.c_str(), static_cast<long long>(f.requests), f.load_s, f.sim_s, f.cpu_s,
              static_cast<double>(f.requests) / f.cpu_s, static_cast<double>(f.events) / f.cpu_s / 1e6,
              static_cast<double>(f.peak_rss) / 1e6, f.simulated_s, static_cast<long long>(r.metrics.completed));
  std::fflush(stdout);
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t requests = 1'000'000;
  double rate = 60;
  std::string json_path;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--requests") requests = std::atoll(argv[i + 1]);
    else if (a == "--rate") rate = std::atof(argv[i + 1]);
    else if (a == "--json") json_path = argv[i + 1];
  }
  try {
    std::vector<Figure> figures;
    figures.push_back(run("azure-conv (default)", core::load_scenario("default")));

    core::ScenarioOverrides o;
    o.prefill_nodes = 8;
    o.decode_nodes = 8;
    o.sets = {"workload={\"generator\": {\"arrival\": {\"process\": \"poisson\", \"rate\": " + std::to_string(rate) +
                  "}, \"requests\": " + std::to_string(requests) +
                  ", \"input\": {\"dist\": \"empirical\", \"trace\": \"traces/data/AzureLLMInferenceTrace_conv.csv\"}"
                  ", \"output\": {\"dist\": \"empirical\", \"trace\": \"traces/data/AzureLLMInferenceTrace_conv.csv\"}}}",
              "name=synthetic-1m"};
    figures.push_back(run("synthetic " + std::to_string(requests / 1000) + "k", core::load_scenario("default", o)));

    if (!json_path.empty()) {
      nlohmann::ordered_json out = nlohmann::ordered_json::array();
      for (const Figure& f : figures) {
        nlohmann::ordered_json j;
        j["name"] = f.name;
        j["requests"] = f.requests;
        j["load_s"] = f.load_s;
        j["simulate_wall_s"] = f.sim_s;
        j["simulate_cpu_s"] = f.cpu_s;
        j["requests_per_cpu_s"] = static_cast<double>(f.requests) / f.cpu_s;
        j["events_per_cpu_s"] = static_cast<double>(f.events) / f.cpu_s;
        j["peak_rss_bytes"] = f.peak_rss;
        out.push_back(j);
      }
      std::ofstream(json_path) << out.dump(2) << "\n";
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sim_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
