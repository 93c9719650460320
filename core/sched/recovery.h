// RecoveryPolicy: what becomes of a request that a failure touched (docs/reliability.md).
//
// The controller (core/control/controller_recovery.cc) does the mechanics, the same in the simulator and
// the live runtime: when a node goes down (Completion kNodeDown) it frees every KV block the node
// held, clears its prefix cache, takes every request that was queued, prefilling, holding KV or
// decoding there off the node, and asks this policy, one request at a time in a fixed order,
// what to do with it; when a KV transfer fails (a dead node, a link down) it asks again. The
// policy sees the situation and a LoadSnapshot whose eligible_prefill / eligible_decode flags
// mark the nodes that may take the request now (up, routable, of the right role, with a pool
// large enough; for kRedirect the request's prefill node is never eligible for decode) and
// answers with one of:
//   kReprefill  queue the request on `prefill` with `decode` as its decode node; whatever KV it
//               still holds is dropped and it recomputes prompt + tokens generated so far (the
//               tokens already delivered stay delivered)
//   kRedirect   keep the prefill side as it is (queued, prefilling, or KV ready on the prefill
//               node); `decode` becomes the decode node and the KV is sent there when ready
//   kFail       the request fails with `reason` (never silently: counted by reason)
// Situations that cost work (kTransferFailed, kKvLost) count one retry each against the
// scenario's max_retries; a policy fails the request once the count exceeds it.
//
// Policies, chosen by name in policies.recovery (one file each in core/sched/policies/):
//   "reroute" (default)  re-prefill on the least-loaded live node, re-transfer to another decode
//                        node; after reprefill_after_transfer_failures (default 2) failed
//                        transfers of the same KV, re-prefill on another prefill node
//   "fail"               fail every touched request at once (a baseline: what recovery saves)
// One instance serves one run, from the controller's thread.
#pragma once

#include <cstdint>
#include <memory>

#include "core/base/request.h"
#include "core/sched/load_snapshot.h"
#include "core/sched/policy_registry.h"
#include "core/work/request_record.h"

namespace flowkv::core {

struct Scenario;

enum class RecoverySituation : uint8_t {
  kQueued,          // it waited in the queue of a node that failed; nothing computed is lost
  kDecodeGone,      // its decode node failed before any KV was sent there; the prefill side is
                    // intact (queued, prefilling, or KV ready on the prefill node)
  kTransferFailed,  // a KV transfer failed; the KV is intact on the prefill node
  kKvLost,          // its KV (or the prefill in progress) went down with a node
};
const char* to_string(RecoverySituation situation);

enum class RecoveryAction : uint8_t { kReprefill, kRedirect, kFail };

struct RecoveryCase {
  const Request* request = nullptr;
  RecoverySituation situation = RecoverySituation::kKvLost;
  NodeId prefill{};           // the request's nodes when the failure hit it
  NodeId decode{};
  bool was_colocated = false;  // prefill == decode
  int32_t retries = 0;         // failures that cost it work so far, this one included
  int32_t transfer_failures = 0;  // consecutive failed transfers of its current KV
  int32_t max_retries = 0;     // the scenario's budget
};

struct RecoveryDecision {
  RecoveryAction action = RecoveryAction::kFail;
  NodeId prefill{};
  NodeId decode{};
  FailureReason reason = FailureReason::kNone;  // kFail only
};

class RecoveryPolicy {
 public:
  virtual ~RecoveryPolicy() = default;
  virtual RecoveryDecision decide(const RecoveryCase& c, const LoadSnapshot& snapshot) = 0;
};

PolicyRegistry<RecoveryPolicy>& recovery_policy_registry();
std::unique_ptr<RecoveryPolicy> make_recovery_policy(const Scenario& scenario);

// The reason a request fails with when `situation` exhausts its budget or finds no node.
FailureReason failure_reason(RecoverySituation situation);

#define FLOWKV_REGISTER_RECOVERY_POLICY(name, summary, factory)                                   \
  FLOWKV_REGISTER_POLICY(::flowkv::core::RecoveryPolicy, ::flowkv::core::recovery_policy_registry(), \
                         name, summary, factory)

}  // namespace flowkv::core
