// Arrivals and routing: the load snapshot the global scheduler reads, and what happens to a
// request when it arrives (checked, routed, queued on its prefill node, or failed unrouted).
#include <algorithm>
#include <string>

#include "core/base/error.h"
#include "core/control/controller.h"
#include "core/control/controller_internal.h"

namespace flowkv::core {

using namespace controller_internal;

void Controller::refresh_snapshot() {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const NodeState& n = nodes_[i];
    NodeLoad& l = loads_[i];
    l.id = n.id;
    l.spec = n.spec;
    l.role = n.role;
    l.routable = n.routable && !n.down;
    l.busy = n.busy;
    l.busy_time = n.busy_time + (n.busy ? now_ - n.work_start : Duration::zero());
    l.flipping = n.flip_requested || n.flipping;
    l.queued_prefill_tokens = n.queued_prefill_tokens;
    l.queued_prefill_requests = static_cast<int32_t>(n.waiting.size() + n.prefilling.size());
    l.running_decode = static_cast<int32_t>(n.decoding.size());
    l.waiting_decode = static_cast<int32_t>(n.ready.size() + n.pending_in.size()) + n.incoming;
    l.assigned_decode_tokens = n.assigned_decode_tokens;
    // usage() computed from the two figures already read: this runs for every node on every
    // arrival, and each allocator call is virtual.
    const int64_t total = n.kv->num_blocks();
    const int64_t free = n.kv->num_free();
    l.kv_total_blocks = total;
    l.kv_free_blocks = free;
    l.kv_largest_free_run = n.kv->fragmentation().largest_free_run;
    l.kv_usage = total == 0 ? 0.0 : static_cast<double>(total - free) / static_cast<double>(total);
    l.prefix_cache = n.prefix_cache.get();
    l.eligible_prefill = false;
    l.eligible_decode = false;
  }
  snapshot_.now = now_;
  snapshot_.nodes = loads_;
  snapshot_.request_blocks = 0;
}

void Controller::on_arrival(const Request& req) {
  const uint64_t idx = to_int(req.id);
  FLOWKV_CHECK(idx < (uint64_t{1} << 31), "request id too large (ids must be dense, 0..n-1)");
  if (idx >= records_.size()) records_.resize(idx + 1);
  RequestRecord& rec = records_[idx];
  FLOWKV_CHECK(rec.prompt_tokens == 0, "request " + std::to_string(idx) + " arrived twice");
  FLOWKV_CHECK(req.prompt_tokens >= 1 && req.output_tokens >= 1 && req.prompt_tokens < INT32_MAX &&
                   req.output_tokens < INT32_MAX,
               "request " + std::to_string(idx) + " has an invalid token count");
  rec.id = req.id;
  rec.prompt_tokens = static_cast<int32_t>(req.prompt_tokens);
  rec.output_tokens = static_cast<int32_t>(req.output_tokens);
  rec.arrival = now_;
  ++totals_.arrived;
  ++in_system_;

  // The most KV the request can ever need on one node: a recompute after a preemption at the
  // last token covers prompt + output - 1 tokens, and so does the decode side.
  const int64_t need = scenario_.blocks_for_tokens(req.prompt_tokens + req.output_tokens - 1);
  refresh_snapshot();
  snapshot_.request_blocks = need;
  bool any_p = false, any_d = false, role_p = false, role_d = false;
  for (NodeLoad& l : loads_) {
    const bool p_role = l.routable && l.role != NodeRole::kDecode;
    const bool d_role = l.routable && l.role != NodeRole::kPrefill;
    const bool fits = need <= l.kv_total_blocks;
    l.eligible_prefill = p_role && fits;
    l.eligible_decode = d_role && fits;
    role_p = role_p || p_role;
    role_d = role_d || d_role;
    any_p = any_p || l.eligible_prefill;
    any_d = any_d || l.eligible_decode;
  }
  if (!any_p || !any_d) {
    const FailureReason reason = !role_p || !role_d ? FailureReason::kNoRoutableNode
                                 : !any_p           ? FailureReason::kTooLargeForPrefill
                                                    : FailureReason::kTooLargeForDecode;
    fail_unrouted(req, reason);
    return;
  }
  const RouteDecision d = global_->route(req, snapshot_);
  if (d.rejected) {
    fail_unrouted(req, FailureReason::kRejected);
    return;
  }
  FLOWKV_CHECK(to_int(d.prefill) < nodes_.size() && loads_[to_int(d.prefill)].eligible_prefill,
               "global scheduler '" + scenario_.global.name + "' picked an ineligible prefill node");
  FLOWKV_CHECK(to_int(d.decode) < nodes_.size() && loads_[to_int(d.decode)].eligible_decode,
               "global scheduler '" + scenario_.global.name + "' picked an ineligible decode node");

  const Slot slot = new_slot();
  LiveRequest& r = live_[slot];
  r.request = &req;
  r.id = req.id;
  r.prefill_node = d.prefill;
  r.decode_node = d.decode;
  r.prompt_tokens = req.prompt_tokens;
  r.output_tokens = req.output_tokens;
  r.prefill_target = req.prompt_tokens;
  NodeState& p = nodes_[to_int(d.prefill)];
  // What the prefill node's prefix cache holds now, in whole cached blocks that leave a token to
  // compute: the estimate the queue figures use until the prefill starts and takes the hit
  // (Controller::start_prefill).
  if (p.prefix_cache) {
    const int64_t usable = (req.prompt_tokens - 1) / kPrefixHashBlockTokens * kPrefixHashBlockTokens;
    r.cached_tokens = std::min(p.prefix_cache->lookup(req) / kPrefixHashBlockTokens * kPrefixHashBlockTokens, usable);
  }
  p.waiting.push_back(slot);
  p.queued_prefill_tokens += r.prefill_target - r.cached_tokens;
  nodes_[to_int(d.decode)].assigned_decode_tokens += r.output_tokens;
  rec.queued = now_;
  rec.prefill_node = static_cast<uint16_t>(to_int(d.prefill));
  rec.decode_node = static_cast<uint16_t>(to_int(d.decode));
  mark(p);
}

void Controller::fail_unrouted(const Request& req, FailureReason reason) {
  RequestRecord& rec = records_[static_cast<size_t>(to_int(req.id))];
  rec.status = RequestStatus::kFailed;
  rec.failure = reason;
  rec.finish = now_;
  ++totals_.failed;
  --in_system_;
}

}  // namespace flowkv::core
