#include "sim/run.h"

#include <chrono>

#include "core/results/vllm_result.h"
#include "sim/sim_backend.h"

namespace flowkv::sim {
namespace {

// Passes every observer call to two observers (the caller's and the timeline).
class TeeObserver final : public core::ControllerObserver {
 public:
  TeeObserver(core::ControllerObserver* a, core::ControllerObserver* b) : a_(a), b_(b) {}
  void on_submit(const core::Work& work, core::Time now) override {
    a_->on_submit(work, now);
    b_->on_submit(work, now);
  }
  void on_completion(const core::Completion& completion) override {
    a_->on_completion(completion);
    b_->on_completion(completion);
  }

 private:
  core::ControllerObserver* a_;
  core::ControllerObserver* b_;
};

}  // namespace

traces::Trace load_scenario_trace(const core::Scenario& scenario) {
  return traces::load_workload(scenario.workload, "workload", scenario.base_dir, scenario.seed);
}

SimResult simulate(const core::Scenario& scenario, const traces::Trace& trace, const SimOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  SimBackend backend(scenario, trace.requests);
  core::ControllerOptions copts;
  copts.expected_requests = static_cast<int64_t>(trace.requests.size());
  copts.observer = options.observer;
  std::optional<core::Timeline> timeline;
  std::optional<TeeObserver> tee;
  if (options.timeline != nullptr) {
    timeline.emplace(*options.timeline, scenario, options.timeline_window);
    if (options.observer != nullptr) {
      copts.observer = &tee.emplace(options.observer, &*timeline);
    } else {
      copts.observer = &*timeline;
    }
  }
  copts.check_invariants = options.check_invariants;
  if (options.progress) {
    const int64_t total = static_cast<int64_t>(trace.requests.size());
    copts.progress = [&options, total](int64_t arrived, int64_t finished) { options.progress(arrived, finished, total); };
  }
  core::Controller controller(scenario, backend, copts);
  if (timeline) timeline->watch(controller.nodes());
  controller.run();

  SimResult result;
  result.metrics = core::compute_metrics(scenario, controller.records(), controller.itl(), controller.nodes());
  result.summary = core::summary_json(result.metrics, scenario);
  nlohmann::ordered_json workload = nlohmann::ordered_json::object();
  workload["source"] = trace.source;
  workload["requests"] = static_cast<int64_t>(trace.requests.size());
  workload["rows"] = trace.stats.rows;
  workload["rows_skipped"] = trace.stats.skipped_total();
  workload["clamped"] = trace.stats.clamped;
  result.summary["workload"] = std::move(workload);
  result.totals = controller.totals();
  if (timeline) result.timeline = timeline->finish();
  result.records = controller.take_records();
  result.info.backend = "sim";
  result.info.events = backend.events();
  result.info.requests = static_cast<int64_t>(trace.requests.size());
  result.info.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.info.peak_rss_bytes = core::peak_rss_bytes();
  return result;
}

void write_results(const SimResult& result, const core::Scenario& scenario, const std::filesystem::path& dir) {
  core::OutputDir out(dir);
  write_results(result, scenario, out);
  out.commit();
}

void write_results(const SimResult& result, const core::Scenario& scenario, core::OutputDir& out) {
  out.open("summary.json") << result.summary.dump(2) << '\n';
  core::write_requests_csv(out.open("requests.csv"), result.records, scenario);
  out.open("run.json") << core::run_json(result.info).dump(2) << '\n';
  out.open("vllm.json") << core::vllm_result_json(result.metrics, result.records, scenario).dump(2) << '\n';
}

}  // namespace flowkv::sim
