#include "core/sched/batch_scheduler.h"

#include "core/spec/scenario.h"

namespace flowkv::core {

PolicyRegistry<BatchScheduler>& batch_scheduler_registry() {
  static PolicyRegistry<BatchScheduler> registry("batch scheduler");
  return registry;
}

std::unique_ptr<BatchScheduler> make_batch_scheduler(const Scenario& scenario) {
  const PolicyContext context{scenario, scenario.batch.params, scenario.batch.json_path};
  return batch_scheduler_registry().make(scenario.batch.name, context);
}

}  // namespace flowkv::core
