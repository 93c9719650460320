// Request ends: completion and failure with a reason; both give back every block the request
// held.
#include <algorithm>
#include <string>

#include "core/base/error.h"
#include "core/control/controller.h"
#include "core/control/controller_internal.h"

namespace flowkv::core {

using namespace controller_internal;

void Controller::close_record(Slot slot) {
  const LiveRequest& r = live_[slot];
  RequestRecord& rec = record(slot);
  rec.tokens = static_cast<int32_t>(r.tokens);
  if (r.tokens > 0) rec.last_token = r.last_token;
  rec.finish = now_;
}

void Controller::finish(Slot slot) {
  LiveRequest& r = live_[slot];
  close_record(slot);
  RequestRecord& rec = record(slot);
  rec.status = RequestStatus::kCompleted;
  if (stop_on_slo_) tally_end(rec);
  ++totals_.completed;
  --in_system_;
  release_blocks(nodes_[to_int(r.prefill_node)], r, r.prefill_blocks);
  release_blocks(nodes_[to_int(r.decode_node)], r, r.decode_blocks);
  free_slot(slot);
}

void Controller::fail(Slot slot, FailureReason reason) {
  LiveRequest& r = live_[slot];
  NodeState& p = nodes_[to_int(r.prefill_node)];
  NodeState& d = nodes_[to_int(r.decode_node)];
  if (erase_value(p.waiting, slot)) p.queued_prefill_tokens -= r.prefill_target - r.cached_tokens;
  if (erase_value(p.prefilling, slot)) p.queued_prefill_tokens -= r.prefill_target - r.prefill_done;
  erase_value(d.decoding, slot);
  erase_value(d.ready, slot);
  erase_value(d.pending_in, slot);
  d.assigned_decode_tokens -= r.output_tokens - r.generated;
  close_record(slot);
  RequestRecord& rec = record(slot);
  rec.status = RequestStatus::kFailed;
  rec.failure = reason;
  if (stop_on_slo_) tally_end(rec);
  ++totals_.failed;
  --in_system_;
  release_blocks(p, r, r.prefill_blocks);
  release_blocks(d, r, r.decode_blocks);
  free_slot(slot);
}

}  // namespace flowkv::core
