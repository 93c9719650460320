// The controller's side of failures: a node that goes down, a KV transfer that fails. The
// mechanics live here (take requests off the failed node, free the KV it held, keep the load
// figures and retry counts right); the choices are the RecoveryPolicy's (core/sched/recovery.h).
// Everything runs on the controller's thread, in a fixed order, so a run stays deterministic.
#include <algorithm>
#include <string>
#include <utility>

#include "core/base/error.h"
#include "core/control/controller.h"
#include "core/control/controller_internal.h"

namespace flowkv::core {

using namespace controller_internal;

namespace {

// A request leaving a live node's queues while that node's iteration is running: the
// iteration still runs (its cost is spent) but must not credit the request when it completes.
void drop_from_iteration(NodeState& node, Slot s) {
  if (!node.busy) return;
  for (size_t k = 0; k < node.it_prefill_slots.size(); ++k) {
    if (node.it_prefill_slots[k] != s) continue;
    node.it_prefill_slots.erase(node.it_prefill_slots.begin() + static_cast<std::ptrdiff_t>(k));
    node.it_prefill.erase(node.it_prefill.begin() + static_cast<std::ptrdiff_t>(k));
    return;
  }
}

}  // namespace

void Controller::on_node_down(NodeState& n) {
  FLOWKV_CHECK(!n.down, "node " + n.spec->name + " reported down twice");
  n.down = true;
  ++n.failures;
  if (n.prefix_cache) n.prefix_cache->clear();
  // The iteration in flight dies with the node; its kFailed completion follows and must find
  // nothing to retry, since its requests are recovered below.
  n.it_prefill.clear();
  n.it_prefill_slots.clear();
  n.it_decode.clear();
  n.it_decodes = false;
  const NodeId id = n.id;
  std::vector<std::pair<Slot, RecoverySituation>> hits;

  // 1. The node's own queues: every request there loses its place, and its KV if it had any.
  for (const Slot s : n.waiting) {
    LiveRequest& r = live_[s];
    n.queued_prefill_tokens -= r.prefill_target - r.cached_tokens;
    hits.emplace_back(s, RecoverySituation::kQueued);
  }
  for (const Slot s : n.prefilling) {
    LiveRequest& r = live_[s];
    n.queued_prefill_tokens -= r.prefill_target - r.prefill_done;
    release_blocks(n, r, r.prefill_side());
    r.decode_block_count = r.colocated() ? 0 : r.decode_block_count;
    hits.emplace_back(s, RecoverySituation::kKvLost);
  }
  // Prefilled elsewhere, waiting for blocks here: the KV is intact on its prefill node.
  for (const Slot s : n.pending_in) hits.emplace_back(s, RecoverySituation::kDecodeGone);
  auto drop_decode_kv = [&](Slot s) {
    LiveRequest& r = live_[s];
    release_blocks(n, r, r.decode_blocks);
    r.decode_block_count = 0;
    r.kv_tokens = 0;
    hits.emplace_back(s, RecoverySituation::kKvLost);
  };
  for (const Slot s : n.ready) drop_decode_kv(s);
  for (const Slot s : n.decoding) drop_decode_kv(s);
  n.waiting.clear();
  n.prefilling.clear();
  n.pending_in.clear();
  n.ready.clear();
  n.decoding.clear();

  // 2. Requests on other nodes that depended on this one.
  for (NodeState& m : nodes_) {
    if (m.id == id) continue;
    // Prefilled here, waiting for blocks on m: their KV is gone.
    auto keep = m.pending_in.begin();
    for (auto it = m.pending_in.begin(); it != m.pending_in.end(); ++it) {
      LiveRequest& r = live_[*it];
      if (r.prefill_node == id) {
        release_blocks(n, r, r.prefill_blocks);
        hits.emplace_back(*it, RecoverySituation::kKvLost);
      } else {
        *keep++ = *it;
      }
    }
    m.pending_in.erase(keep, m.pending_in.end());
    // Queued or prefilling on m with this node as their decode node: the decode node must
    // change (they stay in m's queues unless the policy says otherwise).
    for (const Slot s : m.waiting) {
      if (live_[s].decode_node == id) hits.emplace_back(s, RecoverySituation::kDecodeGone);
    }
    for (const Slot s : m.prefilling) {
      if (live_[s].decode_node == id) hits.emplace_back(s, RecoverySituation::kDecodeGone);
    }
  }

  // 3. Transfers in flight from or to this node: the KV the node held is gone now; their
  // kFailed completion follows and recovers them (on_transfer_failed).
  for (LiveRequest& r : live_) {
    if (r.request == nullptr || r.transfer == WorkId{}) continue;
    if (r.prefill_node == id) release_blocks(n, r, r.prefill_blocks);
    if (r.decode_node == id) {
      release_blocks(n, r, r.decode_blocks);
      r.decode_block_count = 0;
    }
  }
  FLOWKV_CHECK(n.kv->num_used() == 0, "node " + n.spec->name + " went down but " +
                                          std::to_string(n.kv->num_used()) + " of its KV blocks are still held");

  for (const auto& [slot, situation] : hits) recover(slot, situation, &n);
}

void Controller::on_node_up(NodeState& n) {
  FLOWKV_CHECK(n.down, "node " + n.spec->name + " reported up while not down");
  FLOWKV_CHECK(n.kv->num_used() == 0, "node " + n.spec->name + " came back holding KV blocks");
  n.down = false;
  mark(n);
}

void Controller::on_transfer_failed(Slot slot) {
  LiveRequest& r = live_[slot];
  if (r.prefill_blocks.empty()) {
    // Its prefill node went down while the KV was on the wire.
    recover(slot, RecoverySituation::kKvLost, nullptr);
    return;
  }
  ++r.transfer_failures;
  recover(slot, RecoverySituation::kTransferFailed, nullptr);
}

void Controller::set_recovery_eligibility(const LiveRequest& r, bool redirect) {
  refresh_snapshot();
  // As at arrival: the most KV the request can ever need on one node.
  const int64_t need = scenario_.blocks_for_tokens(r.prompt_tokens + r.output_tokens - 1);
  snapshot_.request_blocks = need;
  for (NodeLoad& l : loads_) {
    const bool fits = need <= l.kv_total_blocks;
    l.eligible_prefill = l.routable && l.role != NodeRole::kDecode && fits;
    l.eligible_decode = l.routable && l.role != NodeRole::kPrefill && fits;
  }
  // The KV stays on the prefill node's prefill side: it cannot become its own decode node.
  if (redirect) loads_[to_int(r.prefill_node)].eligible_decode = false;
}

void Controller::recover(Slot slot, RecoverySituation situation, NodeState* failed) {
  LiveRequest& r = live_[slot];
  RequestRecord& rec = record(slot);
  if (situation == RecoverySituation::kTransferFailed || situation == RecoverySituation::kKvLost) {
    ++r.retries;
    ++rec.retries;
  }
  const bool may_redirect =
      situation == RecoverySituation::kDecodeGone || situation == RecoverySituation::kTransferFailed;
  set_recovery_eligibility(r, may_redirect);
  RecoveryCase c;
  c.request = r.request;
  c.situation = situation;
  c.prefill = r.prefill_node;
  c.decode = r.decode_node;
  c.was_colocated = r.colocated();
  c.retries = r.retries;
  c.transfer_failures = r.transfer_failures;
  c.max_retries = scenario_.max_retries;
  const RecoveryDecision d = recovery_->decide(c, snapshot_);
  NodeState& blame = failed ? *failed : nodes_[to_int(r.decode_node)];
  const std::string& policy = scenario_.recovery.name;
  // Only a request whose decode node died while it was queued or prefilling on a live node is
  // still in a queue (and maybe in that node's running iteration).
  const bool in_prefill_queue = situation == RecoverySituation::kDecodeGone && r.prefill_done < r.prefill_target;
  if (in_prefill_queue && d.action != RecoveryAction::kRedirect) {
    drop_from_iteration(nodes_[to_int(r.prefill_node)], slot);
  }

  switch (d.action) {
    case RecoveryAction::kFail:
      FLOWKV_CHECK(d.reason != FailureReason::kNone, "recovery policy '" + policy + "' failed a request without a reason");
      fail(slot, d.reason);
      return;
    case RecoveryAction::kRedirect: {
      FLOWKV_CHECK(may_redirect, "recovery policy '" + policy + "' redirected a request whose KV is gone");
      FLOWKV_CHECK(to_int(d.decode) < nodes_.size() && loads_[to_int(d.decode)].eligible_decode,
                   "recovery policy '" + policy + "' picked an ineligible decode node");
      const int64_t left = r.output_tokens - r.generated;
      nodes_[to_int(r.decode_node)].assigned_decode_tokens -= left;
      r.decode_node = d.decode;
      NodeState& nd = nodes_[to_int(d.decode)];
      nd.assigned_decode_tokens += left;
      rec.decode_node = static_cast<uint16_t>(to_int(d.decode));
      // KV ready on the prefill node (it waited for a dead node's blocks, or its transfer
      // failed): send it to the new decode node. Otherwise the prefill side carries on and
      // prefill_finished() sends it there.
      const bool kv_ready = !r.prefill_blocks.empty() && r.prefill_done >= r.prefill_target;
      if (kv_ready) {
        nd.pending_in.push_back(slot);
        mark(nd);
      }
      if (situation == RecoverySituation::kTransferFailed) {
        ++blame.recoveries_retransfer;
      } else {
        ++blame.recoveries_reroute;
      }
      return;
    }
    case RecoveryAction::kReprefill:
      FLOWKV_CHECK(to_int(d.prefill) < nodes_.size() && loads_[to_int(d.prefill)].eligible_prefill,
                   "recovery policy '" + policy + "' picked an ineligible prefill node");
      FLOWKV_CHECK(to_int(d.decode) < nodes_.size() && loads_[to_int(d.decode)].eligible_decode,
                   "recovery policy '" + policy + "' picked an ineligible decode node");
      if (in_prefill_queue) {
        NodeState& p = nodes_[to_int(r.prefill_node)];
        if (erase_value(p.waiting, slot)) p.queued_prefill_tokens -= r.prefill_target - r.cached_tokens;
        if (erase_value(p.prefilling, slot)) p.queued_prefill_tokens -= r.prefill_target - r.prefill_done;
      }
      requeue(slot, d.prefill, d.decode);
      if (situation == RecoverySituation::kQueued) {
        ++blame.recoveries_reroute;
      } else {
        ++blame.recoveries_reprefill;
      }
      return;
  }
}

// The request is in no queue; whatever KV it still holds is dropped and it recomputes
// prompt + delivered tokens on `prefill`, then decodes on `decode` (as after a preemption).
void Controller::requeue(Slot slot, NodeId prefill, NodeId decode) {
  LiveRequest& r = live_[slot];
  release_blocks(nodes_[to_int(r.prefill_node)], r, r.prefill_blocks);
  release_blocks(nodes_[to_int(r.decode_node)], r, r.decode_blocks);
  r.decode_block_count = 0;
  r.kv_tokens = 0;
  nodes_[to_int(r.decode_node)].assigned_decode_tokens -= r.output_tokens - r.generated;
  // A disaggregated prefill's token travels with its KV: if the KV never arrived, the token was
  // never delivered and is computed again.
  FLOWKV_CHECK(r.generated - r.tokens >= 0 && r.generated - r.tokens <= 1, "token accounting out of sync");
  r.generated = r.tokens;
  r.prefill_target = r.prompt_tokens + r.generated;
  r.prefill_done = 0;
  r.cached_tokens = 0;
  r.transfer_failures = 0;
  r.prefill_node = prefill;
  r.decode_node = decode;
  NodeState& p = nodes_[to_int(prefill)];
  p.waiting.push_back(slot);
  p.queued_prefill_tokens += r.prefill_target;
  nodes_[to_int(decode)].assigned_decode_tokens += r.output_tokens - r.generated;
  RequestRecord& rec = record(slot);
  // No token delivered yet: whichever way the first one now goes, it is not through the
  // transfer that was attempted (core/work/request_record.h).
  if (r.tokens == 0) rec.transfer_start = OptTime();
  rec.prefill_node = static_cast<uint16_t>(to_int(prefill));
  rec.decode_node = static_cast<uint16_t>(to_int(decode));
  mark(p);
}

}  // namespace flowkv::core
