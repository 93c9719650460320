// "fail" recovery policy: every request a failure touches fails at once with a reason. The
// baseline that shows what the "reroute" policy saves; see core/sched/recovery.h.
#include "core/base/json_check.h"
#include "core/sched/recovery.h"

namespace flowkv::core {
namespace {

class FailRecovery final : public RecoveryPolicy {
 public:
  RecoveryDecision decide(const RecoveryCase& c, const LoadSnapshot&) override {
    RecoveryDecision d;
    d.action = RecoveryAction::kFail;
    d.reason = failure_reason(c.situation);
    return d;
  }
};

FLOWKV_REGISTER_RECOVERY_POLICY("fail", "fail every request a failure touches",
                                [](const PolicyContext& c) -> std::unique_ptr<RecoveryPolicy> {
                                  jcheck::check_no_params(c.params, c.json_path);
                                  return std::make_unique<FailRecovery>();
                                });

}  // namespace
}  // namespace flowkv::core
