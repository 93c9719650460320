// "vllm-disagg": vLLM's disaggregated-prefill proxy (examples/online_serving/disagg_*proxy*):
// request k goes to the (k mod #P)-th prefill node and the (k mod #D)-th decode node, i.e.
// round-robin 1P1D pairs, blind to load.
//
// Profile (what the baseline is besides its router): vLLM's paged per-layer KV layout, its free
// list allocator, block-wise transfers (one transport call per (layer, K|V, block): the
// "block-wise calling" the FlowKV paper measures vLLM-disagg with; `--set kv.transfer=per-layer`
// models a connector that gathers each layer first), and static roles.
#include <vector>

#include "core/base/json_check.h"
#include "core/sched/global_scheduler.h"
#include "core/sched/policy_profile.h"

namespace flowkv::core {
namespace {

class VllmDisagg final : public GlobalScheduler {
 public:
  RouteDecision route(const Request&, const LoadSnapshot& s) override {
    prefill_.clear();
    decode_.clear();
    for (const NodeLoad& n : s.nodes) {
      if (n.eligible_prefill) prefill_.push_back(n.id);
      if (n.eligible_decode) decode_.push_back(n.id);
    }
    const uint64_t k = next_++;
    return pair_with(s, prefill_[k % prefill_.size()], decode_[k % decode_.size()]);
  }

 private:
  uint64_t next_ = 0;
  std::vector<NodeId> prefill_, decode_;
};

FLOWKV_REGISTER_GLOBAL_SCHEDULER("vllm-disagg", "vLLM disagg proxy: round-robin 1P1D pairs",
                                 [](const PolicyContext& c) -> std::unique_ptr<GlobalScheduler> {
                                   jcheck::check_no_params(c.params, c.json_path);
                                   return std::make_unique<VllmDisagg>();
                                 });

FLOWKV_REGISTER_POLICY_PROFILE("vllm-disagg", "paged layout, free-list allocator, per-block transfers, static roles",
                               [](ProfileEditor& e) {
                                 e.set("kv.layout", "paged");
                                 e.set("kv.allocator", "freelist");
                                 e.set("kv.transfer", "per-block");
                                 e.set_role_policy("static");
                               });

}  // namespace
}  // namespace flowkv::core
