// "round-robin": prefill nodes in turn, decode nodes in turn, independently of load. A
// colocated node keeps the requests it prefills. The baseline every load-aware policy must beat.
#include <optional>

#include "core/base/json_check.h"
#include "core/sched/global_scheduler.h"

namespace flowkv::core {
namespace {

class RoundRobin final : public GlobalScheduler {
 public:
  RouteDecision route(const Request&, const LoadSnapshot& s) override {
    const NodeId p = next(s, true, next_prefill_);
    const NodeId d = next(s, false, next_decode_);
    return pair_with(s, p, d);
  }

 private:
  // The first eligible node at or after the cursor, wrapping; advances the cursor past it.
  static NodeId next(const LoadSnapshot& s, bool prefill_side, size_t& cursor) {
    const size_t n = s.nodes.size();
    for (size_t k = 0; k < n; ++k) {
      const NodeLoad& node = s.nodes[(cursor + k) % n];
      if (prefill_side ? node.eligible_prefill : node.eligible_decode) {
        cursor = (cursor + k + 1) % n;
        return node.id;
      }
    }
    return s.nodes[0].id;  // unreachable: the controller guarantees an eligible node
  }

  size_t next_prefill_ = 0;
  size_t next_decode_ = 0;
};

FLOWKV_REGISTER_GLOBAL_SCHEDULER("round-robin", "prefill and decode nodes in turn",
                                 [](const PolicyContext& c) -> std::unique_ptr<GlobalScheduler> {
                                   jcheck::check_no_params(c.params, c.json_path);
                                   return std::make_unique<RoundRobin>();
                                 });

}  // namespace
}  // namespace flowkv::core
