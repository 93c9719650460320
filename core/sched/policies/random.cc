// "random": a uniformly random eligible prefill node and decode node, drawn from the scenario's
// seed (byte-identical on every platform: std::mt19937_64 with our own integer mapping).
#include <random>
#include <vector>

#include "core/base/json_check.h"
#include "core/kv/pool_history.h"
#include "core/sched/global_scheduler.h"
#include "core/spec/scenario.h"

namespace flowkv::core {
namespace {

class RandomPolicy final : public GlobalScheduler {
 public:
  explicit RandomPolicy(uint64_t seed) : rng_(seed ^ 0x9e3779b97f4a7c15ULL) {}

  RouteDecision route(const Request&, const LoadSnapshot& s) override {
    const NodeId p = pick(s, true);
    const NodeId d = pick(s, false);
    return pair_with(s, p, d);
  }

 private:
  NodeId pick(const LoadSnapshot& s, bool prefill_side) {
    candidates_.clear();
    for (const NodeLoad& n : s.nodes) {
      if (prefill_side ? n.eligible_prefill : n.eligible_decode) candidates_.push_back(n.id);
    }
    return candidates_[uniform_below(rng_, candidates_.size())];
  }

  std::mt19937_64 rng_;
  std::vector<NodeId> candidates_;
};

FLOWKV_REGISTER_GLOBAL_SCHEDULER("random", "uniformly random nodes, seeded by the scenario's seed",
                                 [](const PolicyContext& c) -> std::unique_ptr<GlobalScheduler> {
                                   jcheck::check_no_params(c.params, c.json_path);
                                   return std::make_unique<RandomPolicy>(c.scenario.seed);
                                 });

}  // namespace
}  // namespace flowkv::core
