// "flowkv": FlowKV's load-aware pair choice (arXiv 2504.03775, section on the Load-Aware
// Scheduler, as far as the paper describes it): for each request pick the decode node D with the
// lowest decode load among those that can hold its KV now (all of them if none can; near-ties
// broken by outstanding decode tokens, CostEstimator::decode_preference), then the
// prefill node P minimising
//   estimated TTFT + transfer = queue time on P + prefill of the prompt less P's prefix-cache
//                               hit + KV transfer time P -> D
// (core/sched/cost_estimate.h; a colocated P that can also decode keeps the request, no transfer).
//
// Profile: FlowKV's block-contiguous layout, segment allocator and merged transfers, and its
// role controller ("flowkv", core/sched/policies/flowkv_roles.cc).
#include "core/base/json_check.h"
#include "core/sched/cost_estimate.h"
#include "core/sched/global_scheduler.h"
#include "core/sched/policy_profile.h"
#include "core/spec/scenario.h"

namespace flowkv::core {
namespace {

class FlowKv final : public GlobalScheduler {
 public:
  explicit FlowKv(const Scenario& s) : est_(s) {}

  RouteDecision route(const Request& req, const LoadSnapshot& s) override {
    const int64_t blocks = est_.blocks_for_tokens(req.prompt_tokens);
    const NodeId d = *pick_min(s, false, [&](const NodeLoad& n) {
      return std::make_pair(n.kv_free_blocks >= blocks ? 0 : 1, est_.decode_preference(n));
    });
    return fastest_prefill(est_, req, s, d).decision;
  }

 private:
  CostEstimator est_;
};

FLOWKV_REGISTER_GLOBAL_SCHEDULER("flowkv", "FlowKV load-aware: decode node by load, prefill node by TTFT + transfer with prefix hits",
                                 [](const PolicyContext& c) -> std::unique_ptr<GlobalScheduler> {
                                   jcheck::check_no_params(c.params, c.json_path);
                                   return std::make_unique<FlowKv>(c.scenario);
                                 });

FLOWKV_REGISTER_POLICY_PROFILE("flowkv", "block-contiguous layout, segment allocator, merged transfers, role controller flowkv",
                               [](ProfileEditor& e) {
                                 e.set("kv.layout", "contiguous");
                                 e.set("kv.allocator", "segment");
                                 e.set("kv.transfer", "merged");
                                 e.set_role_policy("flowkv");
                               });

}  // namespace
}  // namespace flowkv::core
