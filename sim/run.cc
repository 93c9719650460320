#include "sim/run.h"

#include "sim/sim_backend.h"

namespace flowkv::sim {

traces::Trace load_scenario_trace(const core::Scenario& scenario) {
  return traces::load_workload(scenario.workload, "workload", scenario.base_dir, scenario.seed);
}

SimResult simulate(const core::Scenario& scenario, const traces::Trace& trace, const SimOptions& options) {
  std::shared_ptr<const CalibratedModel> calibrated = calibrated_model_for(scenario);
  SimBackend backend(scenario, trace.requests, calibrated);
  SimResult result = core::run_controller(scenario, backend, static_cast<int64_t>(trace.requests.size()), options, "sim");
  result.summary["workload"] = traces::workload_json(trace);
  // The fit's coefficients and its error on the held-back grid points (docs/calibration.md).
  if (calibrated) result.summary["cost_model_fit"] = calibrated->fit_json();
  result.info.events = backend.events();
  return result;
}

}  // namespace flowkv::sim
