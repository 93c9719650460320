// "dynamo": NVIDIA Dynamo's KV-aware router. Each worker's cost is
//   cost = overlap_weight * prefill_blocks + decode_blocks
// where prefill_blocks are the KV blocks the worker would still have to prefill (its queued
// prompt tokens plus this prompt less what its prefix cache holds, in blocks) and decode_blocks
// the blocks it already holds (active KV); the lowest cost wins (Dynamo's router at temperature
// 0), lowest id on ties. The prefill node is chosen by this cost; the decode node by its
// decode_blocks (prefill_blocks are zero there).
//
// Parameters (policies.global): overlap_weight >= 0, default 1.0 (Dynamo's
// --kv-overlap-score-weight).
#include "core/base/json_check.h"
#include "core/kv/prefix_cache.h"
#include "core/sched/global_scheduler.h"
#include "core/spec/scenario.h"

namespace flowkv::core {
namespace {

class Dynamo final : public GlobalScheduler {
 public:
  Dynamo(double weight, int32_t block_size) : weight_(weight), block_size_(block_size) {}

  RouteDecision route(const Request& req, const LoadSnapshot& s) override {
    std::optional<NodeId> p;
    double best = 0;
    int64_t best_cached = 0;
    for (const NodeLoad& n : s.nodes) {
      if (!n.eligible_prefill) continue;
      const int64_t cached = n.prefix_cache ? n.prefix_cache->lookup(req) : 0;
      const double prefill_blocks =
          static_cast<double>(n.queued_prefill_tokens + req.prompt_tokens - cached) / block_size_;
      const double cost = weight_ * prefill_blocks + static_cast<double>(n.kv_total_blocks - n.kv_free_blocks);
      if (!p || cost < best) {
        p = n.id;
        best = cost;
        best_cached = cached;
      }
    }
    const NodeId d = *pick_min(s, false, [](const NodeLoad& n) { return n.kv_total_blocks - n.kv_free_blocks; });
    RouteDecision decision = pair_with(s, *p, d);
    decision.cached_prompt_tokens = best_cached;
    return decision;
  }

 private:
  double weight_;
  int32_t block_size_;
};

FLOWKV_REGISTER_GLOBAL_SCHEDULER("dynamo", "Dynamo KV router: min overlap_weight*prefill_blocks + decode_blocks",
                                 [](const PolicyContext& c) -> std::unique_ptr<GlobalScheduler> {
                                   jcheck::check_object(c.params, c.json_path, {"overlap_weight"});
                                   double w = 1.0;
                                   if (const auto* v = jcheck::member(c.params, "overlap_weight")) {
                                     w = jcheck::non_negative(*v, c.json_path + ".overlap_weight");
                                   }
                                   return std::make_unique<Dynamo>(w, c.scenario.block_size);
                                 });

}  // namespace
}  // namespace flowkv::core
