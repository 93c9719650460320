#include "core/results/run.h"

#include <chrono>

#include "core/results/vllm_result.h"

namespace flowkv::core {
namespace {

// Passes every observer call to two observers (the caller's and the timeline).
class TeeObserver final : public ControllerObserver {
 public:
  TeeObserver(ControllerObserver* a, ControllerObserver* b) : a_(a), b_(b) {}
  void on_submit(const Work& work, Time now) override {
    a_->on_submit(work, now);
    b_->on_submit(work, now);
  }
  void on_completion(const Completion& completion) override {
    a_->on_completion(completion);
    b_->on_completion(completion);
  }

 private:
  ControllerObserver* a_;
  ControllerObserver* b_;
};

}  // namespace

RunResult run_controller(const Scenario& scenario, Backend& backend, int64_t requests, const RunOptions& options,
                         const std::string& backend_name) {
  const auto start = std::chrono::steady_clock::now();
  ControllerOptions copts;
  copts.expected_requests = requests;
  copts.observer = options.observer;
  std::optional<Timeline> timeline;
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
  copts.progress_shift = options.progress_shift;
  copts.stop_after_slo_misses = options.stop_after_slo_misses;
  if (options.progress) {
    copts.progress = [&options, requests](int64_t arrived, int64_t finished) {
      options.progress(arrived, finished, requests);
    };
  }
  Controller controller(scenario, backend, copts);
  if (timeline) timeline->watch(controller.nodes());
  controller.run();

  RunResult result;
  result.metrics = compute_metrics(scenario, controller.records(), controller.itl(), controller.nodes());
  result.summary = summary_json(result.metrics, scenario);
  result.totals = controller.totals();
  if (timeline) result.timeline = timeline->finish();
  result.records = controller.take_records();
  result.info.backend = backend_name;
  result.info.requests = requests;
  result.info.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.info.peak_rss_bytes = peak_rss_bytes();
  return result;
}

void write_run_files(const RunResult& result, const Scenario& scenario, const std::filesystem::path& dir) {
  OutputDir out(dir);
  write_run_files(result, scenario, out);
  out.commit();
}

void write_run_files(const RunResult& result, const Scenario& scenario, OutputDir& out) {
  write_run_files(result, scenario, [&out](const std::string& name) -> std::ostream& { return out.open(name); });
}

void write_run_files(const RunResult& result, const Scenario& scenario,
                     const std::function<std::ostream&(const std::string& name)>& open) {
  open("summary.json") << result.summary.dump(2) << '\n';
  write_requests_csv(open("requests.csv"), result.records, scenario);
  open("run.json") << run_json(result.info).dump(2) << '\n';
  open("vllm.json") << vllm_result_json(result.metrics, result.records, scenario).dump(2) << '\n';
}

}  // namespace flowkv::core
