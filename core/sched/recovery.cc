#include "core/sched/recovery.h"

#include "core/spec/scenario.h"

namespace flowkv::core {

PolicyRegistry<RecoveryPolicy>& recovery_policy_registry() {
  static PolicyRegistry<RecoveryPolicy> registry("recovery policy");
  return registry;
}

std::unique_ptr<RecoveryPolicy> make_recovery_policy(const Scenario& scenario) {
  const PolicyContext context{scenario, scenario.recovery.params, scenario.recovery.json_path};
  return recovery_policy_registry().make(scenario.recovery.name, context);
}

const char* to_string(RecoverySituation situation) {
  switch (situation) {
    case RecoverySituation::kQueued: return "queued";
    case RecoverySituation::kDecodeGone: return "decode_gone";
    case RecoverySituation::kTransferFailed: return "transfer_failed";
    case RecoverySituation::kKvLost: return "kv_lost";
  }
  return "unknown";
}

FailureReason failure_reason(RecoverySituation situation) {
  return situation == RecoverySituation::kTransferFailed ? FailureReason::kTransferFailed
                                                         : FailureReason::kNodeFailed;
}

}  // namespace flowkv::core
