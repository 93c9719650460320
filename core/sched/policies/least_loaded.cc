// "least-loaded": the prefill node with the fewest prompt tokens queued and the decode node with
// the fewest output tokens still to produce (outstanding tokens), lowest id on ties.
#include <utility>

#include "core/base/json_check.h"
#include "core/sched/global_scheduler.h"

namespace flowkv::core {
namespace {

class LeastLoaded final : public GlobalScheduler {
 public:
  RouteDecision route(const Request&, const LoadSnapshot& s) override {
    const auto p = pick_min(s, true, [](const NodeLoad& n) {
      // Colocated nodes also decode: count both kinds of outstanding work.
      return n.queued_prefill_tokens + (n.role == NodeRole::kColocated ? n.assigned_decode_tokens : 0);
    });
    const auto d = pick_min(s, false, [](const NodeLoad& n) {
      return std::make_pair(n.assigned_decode_tokens, n.queued_prefill_tokens);
    });
    return pair_with(s, *p, *d);
  }
};

FLOWKV_REGISTER_GLOBAL_SCHEDULER("least-loaded", "fewest outstanding tokens (queued prefill / remaining decode)",
                                 [](const PolicyContext& c) -> std::unique_ptr<GlobalScheduler> {
                                   jcheck::check_no_params(c.params, c.json_path);
                                   return std::make_unique<LeastLoaded>();
                                 });

}  // namespace
}  // namespace flowkv::core
