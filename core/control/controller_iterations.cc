// Iterations: KV blocks for the batch scheduler (BatchOps: start a prefill, grow a decode, preempt),
// planning and submitting a node's next iteration, and what a finished iteration delivers
// (tokens: TTFT and the inter-token gaps, kept here beside the decode step that is the
// simulator's innermost loop).
#include <algorithm>
#include <string>

#include "core/base/error.h"
#include "core/control/controller.h"
#include "core/control/controller_internal.h"

namespace flowkv::core {

using namespace controller_internal;

void Controller::note_usage(NodeState& node) {
  const Time now = now_;
  node.used_block_ns += static_cast<double>(node.kv->num_used()) * static_cast<double>((now - node.usage_since).ns());
  node.usage_since = now;
}

bool Controller::allocate_blocks(NodeState& node, int64_t n, BlockList& out) {
  note_usage(node);
  const size_t before = out.size();
  if (!node.kv->allocate(n, out)) {
    // Cached prefixes nobody uses give their blocks back before anyone waits for memory.
    if (!node.prefix_cache || node.prefix_cache->evict_for(n) == 0 || !node.kv->allocate(n, out)) return false;
  }
  // Keep a request's list as few runs as possible: a new run that continues the last one
  // merges with it (decode growth on a contiguous pool stays one run).
  if (before > 0 && out.size() > before) {
    BlockRun& last = out[before - 1];
    if (to_int(last.first) + last.count == to_int(out[before].first)) {
      last.count += out[before].count;
      out.erase(out.begin() + static_cast<std::ptrdiff_t>(before));
    }
  }
  node.peak_used_blocks = std::max(node.peak_used_blocks, node.kv->num_used());
  return true;
}

void Controller::release_blocks(NodeState& node, LiveRequest& r, BlockList& blocks) {
  if (blocks.empty()) return;
  note_usage(node);
  if (r.cache_owned_blocks > 0 && &blocks == &r.prefill_side()) {
    // The leading blocks belong to the node's prefix cache (or went with it when the node
    // failed): only the request's own tail returns to the pool; the references are dropped.
    release_scratch_.clear();
    append_slice(release_scratch_, blocks, r.cache_owned_blocks, total_blocks(blocks) - r.cache_owned_blocks);
    if (!release_scratch_.empty()) node.kv->free(release_scratch_);
    if (node.prefix_cache) node.prefix_cache->release(r.cache_refs);
    r.cache_refs.clear();
    r.cache_owned_blocks = 0;
  } else {
    FLOWKV_CHECK(r.cache_refs.empty() || &blocks != &r.prefill_side(), "prefix cache references without cached blocks");
    node.kv->free(blocks);
  }
  blocks.clear();
  mark(node);
}

bool Controller::start_prefill(NodeState& node, Slot slot) {
  LiveRequest& r = live_[slot];
  FLOWKV_CHECK(node.id == r.prefill_node, "prefill started on the wrong node");
  const int64_t n = scenario_.blocks_for_tokens(r.prefill_target);
  BlockList& target = r.prefill_side();
  FLOWKV_CHECK(target.empty() && r.cache_refs.empty(), "prefill started while holding blocks");
  int64_t cached = 0;
  if (node.prefix_cache) {
    // The request's first blocks are the cached prefix's own blocks; at least one token is
    // computed (the one that yields the next token).
    cached = node.prefix_cache->acquire(*r.request, std::min(r.prompt_tokens, r.prefill_target - 1), target,
                                        r.cache_refs);
    r.cache_owned_blocks = total_blocks(target);
  }
  if (!allocate_blocks(node, n - r.cache_owned_blocks, target)) {
    if (node.prefix_cache) node.prefix_cache->release(r.cache_refs);
    r.cache_owned_blocks = 0;
    target.clear();
    return false;
  }
  if (node.prefix_cache) {
    // The routing-time estimate becomes the hit this prefill really has.
    node.queued_prefill_tokens += r.cached_tokens - cached;
    r.cached_tokens = cached;
    node.prefix_prompt_tokens += r.prompt_tokens;
    node.prefix_hit_tokens += cached;
  }
  if (r.colocated()) r.decode_block_count = n;
  r.prefill_done = r.cached_tokens;
  RequestRecord& rec = record(slot);
  if (!rec.prefill_start.has_value()) rec.prefill_start = now_;
  return true;
}

bool Controller::grow(NodeState& node, Slot slot) {
  LiveRequest& r = live_[slot];
  if (!allocate_blocks(node, 1, r.decode_blocks)) return false;
  ++r.decode_block_count;
  return true;
}

void Controller::preempt(NodeState& node, Slot slot) {
  LiveRequest& r = live_[slot];
  release_blocks(node, r, r.decode_blocks);
  r.decode_block_count = 0;
  r.kv_tokens = 0;
  r.prefill_target = r.prompt_tokens + r.generated;
  r.prefill_done = 0;
  r.cached_tokens = 0;
  NodeState& p = nodes_[to_int(r.prefill_node)];
  RequestRecord& rec = record(slot);
  ++rec.preemptions;
  ++node.preemptions;
  ++totals_.preemptions;
  if (p.down) {  // its prefill node has failed since: recompute elsewhere (core/sched/recovery.h)
    recover(slot, RecoverySituation::kQueued, &p);
    return;
  }
  p.waiting.push_front(slot);
  p.queued_prefill_tokens += r.prefill_target;
  mark(p);
}

void Controller::start_node(NodeState& node) {
  if (node.busy || node.flipping || node.down) return;
  if (node.flip_requested) {
    node.flip_requested = false;
    node.flipping = true;
    node.flip_work = make_work_id(kFlipWork, to_int(node.id));
    submit(RoleFlip{node.flip_work, node.id, node.flip_role, node.flip_routable, node.flip_cost});
    return;
  }
  pool_ = live_.data();
  batch_->plan(node, *this);
  if (node.it_prefill.empty() && !node.it_decodes) return;
  int64_t context = 0;
  if (node.it_decodes) {
    // Sized once and filled by index: this runs for every request of every decode step.
    node.it_decode.resize(node.decoding.size());
    DecodeItem* item = node.it_decode.data();
    for (const Slot s : node.decoding) {
      const LiveRequest& r = live_[s];
      *item++ = DecodeItem{r.id, r.kv_tokens, {}};
      context += r.kv_tokens;
    }
    if (placement_) {
      for (size_t k = 0; k < node.decoding.size(); ++k) node.it_decode[k].blocks = live_[node.decoding[k]].decode_blocks;
    }
  } else {
    node.it_decode.clear();
  }
  int64_t prefill_tokens = 0;
  for (size_t k = 0; k < node.it_prefill.size(); ++k) {
    PrefillItem& p = node.it_prefill[k];
    if (placement_) p.blocks = live_[node.it_prefill_slots[k]].prefill_side();
    prefill_tokens += p.num_tokens;
  }
  node.busy = true;
  node.work = make_work_id(kIterationWork, to_int(node.id));
  node.work_start = now_;
  Iteration it;
  it.id = node.work;
  it.node = node.id;
  it.prefill = node.it_prefill;
  it.decode = node.it_decode;
  it.num_prefill_tokens = prefill_tokens;
  it.decode_context_tokens = context;
  submit(it);
}

void Controller::on_iteration_done(NodeState& node, WorkState state) {
  const Time now = now_;
  node.busy = false;
  node.busy_time += now - node.work_start;
  ++node.iterations;
  ++totals_.iterations;
  mark(node);
  if (state != WorkState::kCompleted) {
    // Nothing of the iteration happened: its requests stay where they are and run again,
    // unless they have used up their retry budget.
    auto retry_or_fail = [&](Slot s, auto& queue) {
      LiveRequest& r = live_[s];
      ++r.retries;
      ++record(s).retries;
      if (r.retries > scenario_.max_retries) {
        erase_value(queue, s);
        fail(s, FailureReason::kIterationFailed);
      }
    };
    const std::vector<Slot> prefill_slots = node.it_prefill_slots;
    for (const Slot s : prefill_slots) retry_or_fail(s, node.prefilling);
    if (node.it_decodes) {
      const std::vector<Slot> decode_slots = node.decoding;
      for (const Slot s : decode_slots) retry_or_fail(s, node.decoding);
    }
    return;
  }
  if (node.it_decodes) step_decodes(node);
  for (size_t k = 0; k < node.it_prefill.size(); ++k) {
    const Slot s = node.it_prefill_slots[k];
    const int64_t tokens = node.it_prefill[k].num_tokens;
    LiveRequest& r = live_[s];
    r.prefill_done += tokens;
    node.queued_prefill_tokens -= tokens;
    node.prefill_tokens += tokens;
    if (r.prefill_done >= r.prefill_target) {
      erase_value(node.prefilling, s);
      prefill_finished(node, s);
    }
  }
}

// One decode step of a whole batch: every request stores one more token's KV and delivers one
// more token; those done leave the batch. The simulator's innermost loop (once per output token).
void Controller::step_decodes(NodeState& node) {
  FLOWKV_CHECK(node.decoding.size() == node.it_decode.size(), "decode batch changed while running");
  const size_t n = node.decoding.size();
  Slot* const batch = node.decoding.data();
  size_t kept = 0;
  for (size_t i = 0; i < n; ++i) {
    const Slot s = batch[i];
    LiveRequest& r = live_[s];
    ++r.kv_tokens;
    ++r.generated;
    deliver_token(s);
    if (r.generated >= r.output_tokens) {
      finish(s);
    } else {
      batch[kept++] = s;
    }
  }
  node.assigned_decode_tokens -= static_cast<int64_t>(n);
  node.decode_tokens += static_cast<int64_t>(n);
  node.decoding.resize(kept);
}

void Controller::prefill_finished(NodeState& node, Slot slot) {
  LiveRequest& r = live_[slot];
  RequestRecord& rec = record(slot);
  if (!rec.prefill_end.has_value()) rec.prefill_end = now_;
  if (node.prefix_cache) {
    r.cache_owned_blocks = node.prefix_cache->insert(*r.request, std::min(r.prompt_tokens, r.prefill_target),
                                                     r.prefill_side(), r.cache_refs);
  }
  // A prefill produces one output token.
  ++r.generated;
  --nodes_[to_int(r.decode_node)].assigned_decode_tokens;
  if (r.generated >= r.output_tokens) {
    deliver_token(slot);
    finish(slot);
    return;
  }
  if (r.colocated()) {
    r.kv_tokens = r.prefill_target;
    deliver_token(slot);
    node.ready.push_back(slot);
    return;
  }
  // Disaggregated: the token reaches the client with the KV, when the transfer completes.
  NodeState& d = nodes_[to_int(r.decode_node)];
  d.pending_in.push_back(slot);
  mark(d);
}

void Controller::deliver_token(Slot slot) {
  LiveRequest& r = live_[slot];
  if (r.tokens == 0) {
    record(slot).first_token = now_;
  } else {
    // Requests stepping in the same decode iteration share their gap: count runs of equal gaps
    // and add each run to the histogram once.
    const Duration gap = now_ - r.last_token;
    if (gap != itl_gap_) {
      flush_itl();
      itl_gap_ = gap;
    }
    ++itl_run_;
  }
  r.last_token = now_;
  ++r.tokens;
  if (options_.observer != nullptr) options_.observer->on_token(r.id, now_);
}

void Controller::flush_itl() {
  if (itl_run_ > 0) itl_.add(itl_gap_, itl_run_);
  itl_run_ = 0;
}

}  // namespace flowkv::core
