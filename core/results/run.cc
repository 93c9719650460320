#include "core/results/run.h"

#include <chrono>


namespace flowkv::core {
namespace {

// Passes every observer call to several observers (the caller's, the timeline, token times).
class TeeObserver final : public ControllerObserver {
 public:
  explicit TeeObserver(std::vector<ControllerObserver*> all) : all_(std::move(all)) {}
  void on_submit(const Work& work, Time now) override {
    for (ControllerObserver* o : all_) o->on_submit(work, now);
  }
  void on_completion(const Completion& completion) override {
    for (ControllerObserver* o : all_) o->on_completion(completion);
  }
  void on_token(RequestId request, Time now) override {
    for (ControllerObserver* o : all_) o->on_token(request, now);
  }

 private:
  std::vector<ControllerObserver*> all_;
};

// Every request's token times, as the gaps between consecutive tokens.
class TokenGaps final : public ControllerObserver {
 public:
  void on_token(RequestId request, Time now) override {
    const size_t id = static_cast<size_t>(to_int(request));
    if (id >= last_.size()) {
      last_.resize(id + 1);
      gaps_.resize(id + 1);
    }
    if (last_[id].has_value()) gaps_[id].push_back((now - last_[id].value()).seconds());
    last_[id] = now;
  }
  std::vector<std::vector<double>> take() { return std::move(gaps_); }

 private:
  std::vector<OptTime> last_;
  std::vector<std::vector<double>> gaps_;
};

}  // namespace

RunResult run_controller(const Scenario& scenario, Backend& backend, int64_t requests, const RunOptions& options,
                         const std::string& backend_name) {
  const auto start = std::chrono::steady_clock::now();
  ControllerOptions copts;
  copts.expected_requests = requests;
  copts.observer = options.observer;
  std::optional<Timeline> timeline;
  TokenGaps gaps;
  std::vector<ControllerObserver*> observers;
  if (options.observer != nullptr) observers.push_back(options.observer);
  if (options.timeline != nullptr) {
    timeline.emplace(*options.timeline, scenario, options.timeline_window);
    observers.push_back(&*timeline);
  }
  if (options.detailed) observers.push_back(&gaps);
  std::optional<TeeObserver> tee;
  if (observers.size() == 1) {
    copts.observer = observers[0];
  } else if (observers.size() > 1) {
    copts.observer = &tee.emplace(observers);
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
  if (options.detailed) result.detail = VllmDetail{gaps.take(), {}};
  result.records = controller.take_records();
  result.info.backend = backend_name;
  result.info.requests = requests;
  result.info.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.info.peak_rss_bytes = peak_rss_bytes();
  return result;
}

nlohmann::ordered_json run_vllm_json(const RunResult& result, const Scenario& scenario) {
  VllmOptions o;
  o.backend = "flowkv-" + result.info.backend;
  if (result.date) o.date = *result.date;
  if (result.detail) o.detail = &*result.detail;
  return vllm_result_json(result.metrics, result.records, scenario, o);
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
  open("vllm.json") << run_vllm_json(result, scenario).dump(2) << '\n';
}

}  // namespace flowkv::core
