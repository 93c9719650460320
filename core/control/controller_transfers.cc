// KV transfers from a prefill node to a decode node (blocks on the decode side, FIFO, never
// dropped; the planned copies; the hand-over to the decode batch), and role flips.
#include <algorithm>
#include <string>

#include "core/base/error.h"
#include "core/control/controller.h"
#include "core/control/controller_internal.h"

namespace flowkv::core {

using namespace controller_internal;

void Controller::try_pending_transfers(NodeState& node) {
  while (!node.pending_in.empty()) {
    const Slot s = node.pending_in.front();
    LiveRequest& r = live_[s];
    const int64_t n = total_blocks(r.prefill_blocks);
    if (!allocate_blocks(node, n, r.decode_blocks)) return;  // FIFO: wait for the head
    r.decode_block_count = n;
    node.pending_in.pop_front();
    submit_transfer(s);
  }
}

void Controller::submit_transfer(Slot slot) {
  LiveRequest& r = live_[slot];
  NodeState& p = nodes_[to_int(r.prefill_node)];
  NodeState& d = nodes_[to_int(r.decode_node)];
  const TransferCost cost = count_transfer(p.spec->layout, r.prefill_blocks, d.spec->layout,
                                           r.decode_blocks, scenario_.transfer);
  r.transfer = make_work_id(kTransferWork, slot);
  r.transfer_started = now_;
  RequestRecord& rec = record(slot);
  // The transfer milestones are those of the transfer that carries the first token's KV (the
  // last one before it is delivered: earlier ones failed).
  if (r.tokens == 0) rec.transfer_start = now_;
  rec.transfer_calls += static_cast<int32_t>(std::min<int64_t>(cost.calls, INT32_MAX - rec.transfer_calls));
  rec.transfer_bytes += cost.bytes;
  ++totals_.transfers;
  totals_.transfer_calls += cost.calls;
  totals_.transfer_bytes += cost.bytes;
  ++d.incoming;
  ++p.transfers_out;
  submit(Transfer{r.transfer, r.id, p.id, d.id, cost.calls, cost.bytes, cost.local_copies, r.prefill_blocks,
                  r.decode_blocks});
}

void Controller::on_transfer_done(Slot slot, WorkState state) {
  LiveRequest& r = live_[slot];
  NodeState& p = nodes_[to_int(r.prefill_node)];
  NodeState& d = nodes_[to_int(r.decode_node)];
  RequestRecord& rec = record(slot);
  --d.incoming;
  rec.transfer_time += now_ - r.transfer_started;
  r.transfer = WorkId{};
  if (state != WorkState::kCompleted) {
    release_blocks(d, r, r.decode_blocks);
    r.decode_block_count = 0;
    on_transfer_failed(slot);
    return;
  }
  FLOWKV_CHECK(!d.down, "a transfer into a failed node completed");
  r.transfer_failures = 0;
  release_blocks(p, r, r.prefill_blocks);
  ++d.transfers_in;
  r.kv_tokens = r.prefill_target;
  if (r.tokens == 0) rec.transfer_end = now_;
  deliver_token(slot);
  d.ready.push_back(slot);
  mark(d);
}

void Controller::on_timer() {
  refresh_snapshot();
  changes_.clear();
  roles_->decide(snapshot_, changes_);
  for (const RoleChange& c : changes_) {
    FLOWKV_CHECK(to_int(c.node) < nodes_.size(), "role controller named an unknown node");
    NodeState& n = nodes_[to_int(c.node)];
    if (n.flipping || (c.role == n.role && c.routable == n.routable)) continue;
    n.flip_requested = true;
    n.flip_role = c.role;
    n.flip_routable = c.routable;
    n.flip_cost = c.cost.value_or(!n.routable && c.routable ? scenario_.cost.node_startup : scenario_.cost.role_flip);
    mark(n);
  }
  timer_work_ = make_work_id(kTimerWork, 0);
  submit(Timer{timer_work_, roles_->period()});
}

void Controller::on_flip_done(NodeState& node, WorkState state) {
  node.flipping = false;
  if (state == WorkState::kCompleted) {
    // A change of the routable set is an elastic join or leave; a role change of a node that
    // stays routable is a role flip.
    if (!node.routable && node.flip_routable) {
      ++node.elastic_joins;
    } else if (node.routable && !node.flip_routable) {
      ++node.elastic_leaves;
    } else if (node.role != node.flip_role) {
      ++node.role_flips;
      ++totals_.role_flips;
    }
    node.role = node.flip_role;
    node.routable = node.flip_routable;
  }
  mark(node);
}

}  // namespace flowkv::core
