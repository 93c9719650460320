// "mooncake": Mooncake's Conductor (Qin et al., "Mooncake: A KVCache-centric Disaggregated
// Architecture for LLM Serving", FAST 2025). For every eligible prefill node P the estimated
// time to first token is
//   TTFT(P) = queue time on P + prefill time of the prompt less P's prefix-cache hit
//             + KV transfer time from P to the chosen decode node
// (core/sched/cost_estimate.h, LoadSnapshot::estimate_transfer); the request goes to the minimum.
// The decode node is the one with the lowest decode load (its time-between-tokens pressure;
// CostEstimator::decode_preference breaks near-ties by outstanding decode tokens).
// Mooncake does not move cached prefixes between prefill nodes here (no global KV store).
//
// Parameters (policies.global):
//   early_rejection      bool, false: reject a request when, on arrival, its best TTFT
//                        estimate exceeds reject_ttft_factor * slo.ttft_s or the chosen decode
//                        node's load is at least reject_decode_load (Mooncake's early rejection
//                        under overload; rejected requests are failed with reason
//                        rejected_by_scheduler and counted)
//   reject_ttft_factor   > 0, 1.0
//   reject_decode_load   > 0, 1.0
#include "core/base/json_check.h"
#include "core/sched/cost_estimate.h"
#include "core/sched/global_scheduler.h"
#include "core/spec/scenario.h"

namespace flowkv::core {
namespace {

struct MooncakeParams {
  bool early_rejection = false;
  double reject_ttft_factor = 1.0;
  double reject_decode_load = 1.0;
};

class Mooncake final : public GlobalScheduler {
 public:
  Mooncake(const Scenario& s, const MooncakeParams& p) : est_(s), p_(p) {}

  RouteDecision route(const Request& req, const LoadSnapshot& s) override {
    // Decode side first: the node with the lowest decode load (CostEstimator::decode_preference).
    const NodeId d = *pick_min(s, false, [&](const NodeLoad& n) { return est_.decode_preference(n); });
    const double d_load = est_.decode_load(s.nodes[to_int(d)]);
    FastestPrefill f = fastest_prefill(est_, req, s, d);
    if (p_.early_rejection &&
        (f.ttft.seconds() > p_.reject_ttft_factor * est_.slo_ttft_s() || d_load >= p_.reject_decode_load)) {
      f.decision.rejected = true;
    }
    return f.decision;
  }

 private:
  CostEstimator est_;
  MooncakeParams p_;
};

std::unique_ptr<GlobalScheduler> make(const PolicyContext& c) {
  jcheck::check_object(c.params, c.json_path, {"early_rejection", "reject_ttft_factor", "reject_decode_load"});
  MooncakeParams p;
  if (const auto* v = jcheck::member(c.params, "early_rejection")) p.early_rejection = jcheck::boolean(*v, c.json_path + ".early_rejection");
  if (const auto* v = jcheck::member(c.params, "reject_ttft_factor")) p.reject_ttft_factor = jcheck::positive(*v, c.json_path + ".reject_ttft_factor");
  if (const auto* v = jcheck::member(c.params, "reject_decode_load")) p.reject_decode_load = jcheck::positive(*v, c.json_path + ".reject_decode_load");
  return std::make_unique<Mooncake>(c.scenario, p);
}

FLOWKV_REGISTER_GLOBAL_SCHEDULER("mooncake", "Mooncake Conductor: minimum estimated TTFT with prefix hits and transfer, optional early rejection", make);

}  // namespace
}  // namespace flowkv::core
