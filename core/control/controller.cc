// The controller's frame: construction, the event loop, dispatch of completions to their
// handlers (the other controller_*.cc files), the slot pool and the invariant check.
#include <algorithm>
#include <string>

#include "core/base/error.h"
#include "core/control/controller.h"
#include "core/control/controller_internal.h"
#include "core/kv/prefix_cache.h"

namespace flowkv::core {

using namespace controller_internal;

Controller::Controller(const Scenario& scenario, Backend& backend, ControllerOptions options)
    : scenario_(scenario), backend_(backend), options_(std::move(options)) {
  placement_ = backend_.needs_placement();
  global_ = make_global_scheduler(scenario_);
  batch_ = make_batch_scheduler(scenario_);
  roles_ = make_role_controller(scenario_);
  recovery_ = make_recovery_policy(scenario_);
  nodes_.resize(scenario_.nodes.size());
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const NodeSpec& spec = scenario_.nodes[i];
    NodeState& n = nodes_[i];
    n.id = NodeId{static_cast<uint32_t>(i)};
    n.spec = &spec;
    n.role = spec.role;
    n.initial_role = spec.role;
    n.routable = !spec.standby;
    n.kv = make_allocator(scenario_.allocator, spec.layout.geometry.num_blocks);
    n.usage_since = backend_.now();
    if (scenario_.prefix_cache_blocks != 0) {
      // kv.prefix_cache: true (-1) is bounded by the pool alone, N by N entries too.
      n.prefix_cache = std::make_unique<PrefixCache>(*n.kv, scenario_.block_size,
                                                     std::max<int64_t>(scenario_.prefix_cache_blocks, 0));
    }
  }
  loads_.resize(nodes_.size());
  is_marked_.assign(nodes_.size(), 0);
  snapshot_.link = scenario_.link;
  snapshot_.transfer_mode = scenario_.transfer;
  // Trace ids are 0..n-1: size the records once rather than growing them per arrival.
  if (options_.expected_requests > 0) records_.resize(static_cast<size_t>(options_.expected_requests));
}

Controller::~Controller() = default;

WorkId Controller::make_work_id(uint64_t kind, uint64_t index) {
  FLOWKV_CHECK(index <= kIndexMask, "work index out of range");
  const uint64_t seq = (++work_seq_) & 0xffffffffULL;
  return WorkId{(seq << 32) | (index << 2) | kind};
}

void Controller::submit(const Work& work) {
  if (options_.observer) options_.observer->on_submit(work, now_);
  backend_.submit(work);
}

void Controller::run() {
  now_ = backend_.now();
  if (roles_->period() > Duration::zero()) {
    timer_work_ = make_work_id(kTimerWork, 0);
    timer_armed_ = true;
    submit(Timer{timer_work_, roles_->period()});
  }
  while (std::optional<Completion> c = backend_.next()) {
    now_ = c->time;
    handle(*c);
    process_marked();
    ++totals_.events;
    if (options_.check_invariants) check_invariants();
    if (options_.progress && (totals_.events & ((int64_t{1} << options_.progress_shift) - 1)) == 0) {
      options_.progress(totals_.arrived, totals_.completed + totals_.failed);
    }
  }
  now_ = backend_.now();
  totals_.end = now_;
  // Nothing is left to run: anything unfinished is stuck, which the design rules out. Fail it
  // loudly (counted, with a reason) rather than lose it.
  for (Slot s = 0; s < live_.size(); ++s) {
    if (live_[s].request != nullptr) fail(s, FailureReason::kStalled);
  }
  for (NodeState& n : nodes_) {
    note_usage(n);
    if (n.prefix_cache) {  // what the cache still holds is nobody's: give it back, then check
      n.prefix_evictions = n.prefix_cache->evictions();
      n.prefix_cache->clear();
    }
    FLOWKV_CHECK(n.kv->num_used() == 0, "node " + n.spec->name + " still holds " +
                                            std::to_string(n.kv->num_used()) + " KV blocks at the end");
  }
  FLOWKV_CHECK(totals_.completed + totals_.failed == totals_.arrived, "requests unaccounted for");
  flush_itl();
  if (options_.progress) options_.progress(totals_.arrived, totals_.completed + totals_.failed);
}

void Controller::handle(const Completion& c) {
  if (options_.observer) options_.observer->on_completion(c);
  switch (c.kind) {
    case Completion::Kind::kArrival:
      FLOWKV_CHECK(c.request != nullptr, "arrival without a request");
      on_arrival(*c.request);
      return;
    case Completion::Kind::kTimer:
      if (timer_armed_ && c.work == timer_work_) on_timer();
      return;
    case Completion::Kind::kNodeDown:
    case Completion::Kind::kNodeUp:
      FLOWKV_CHECK(to_int(c.node) < nodes_.size(), "failure report for an unknown node");
      if (c.kind == Completion::Kind::kNodeDown) {
        on_node_down(nodes_[to_int(c.node)]);
      } else {
        on_node_up(nodes_[to_int(c.node)]);
      }
      return;
    case Completion::Kind::kWorkDone:
      break;
  }
  const uint64_t index = work_index(c.work);
  switch (work_kind(c.work)) {
    case kIterationWork: {
      FLOWKV_CHECK(index < nodes_.size(), "iteration completion for an unknown node");
      NodeState& n = nodes_[index];
      FLOWKV_CHECK(n.busy && n.work == c.work, "completion of an iteration that is not running");
      on_iteration_done(n, c.state);
      return;
    }
    case kTransferWork:
      FLOWKV_CHECK(index < live_.size() && live_[index].transfer == c.work,
                   "completion of a transfer that is not running");
      on_transfer_done(static_cast<Slot>(index), c.state);
      return;
    case kFlipWork: {
      FLOWKV_CHECK(index < nodes_.size(), "flip completion for an unknown node");
      NodeState& n = nodes_[index];
      FLOWKV_CHECK(n.flipping && n.flip_work == c.work, "completion of a flip that is not running");
      on_flip_done(n, c.state);
      return;
    }
    default:
      FLOWKV_CHECK(false, "completion of unknown work");
  }
}

void Controller::mark(NodeState& node) {
  const size_t i = to_int(node.id);
  if (!is_marked_[i]) {
    is_marked_[i] = 1;
    marked_.push_back(static_cast<uint32_t>(i));
  }
}

void Controller::process_marked() {
  for (size_t k = 0; k < marked_.size(); ++k) {
    NodeState& n = nodes_[marked_[k]];
    is_marked_[marked_[k]] = 0;
    try_pending_transfers(n);
    start_node(n);
  }
  marked_.clear();
}

Slot Controller::new_slot() {
  if (!free_slots_.empty()) {
    const Slot s = free_slots_.back();
    free_slots_.pop_back();
    return s;
  }
  FLOWKV_CHECK(live_.size() < kIndexMask, "too many requests in flight");
  live_.emplace_back();
  pool_ = live_.data();
  return static_cast<Slot>(live_.size() - 1);
}

void Controller::free_slot(Slot slot) {
  LiveRequest& r = live_[slot];
  // Keep the block lists' capacity: the slot's next request reuses it without allocating.
  BlockList prefill = std::move(r.prefill_blocks);
  BlockList decode = std::move(r.decode_blocks);
  std::vector<PrefixCache::Ref> refs = std::move(r.cache_refs);
  FLOWKV_CHECK(refs.empty(), "a request ended holding prefix cache references");
  prefill.clear();
  decode.clear();
  r = LiveRequest{};
  r.prefill_blocks = std::move(prefill);
  r.decode_blocks = std::move(decode);
  r.cache_refs = std::move(refs);
  free_slots_.push_back(slot);
}

void Controller::check_invariants() const {
  std::vector<int64_t> held(nodes_.size(), 0);
  for (const LiveRequest& r : live_) {
    if (r.request == nullptr) continue;
    held[to_int(r.prefill_node)] += total_blocks(r.prefill_blocks);
    held[to_int(r.decode_node)] += total_blocks(r.decode_blocks);
    held[to_int(r.prefill_node)] -= r.cache_owned_blocks;  // counted once, as the cache's
    FLOWKV_CHECK(r.generated <= r.output_tokens, "request produced more tokens than asked");
    FLOWKV_CHECK(total_blocks(r.decode_blocks) == r.decode_block_count, "decode block count out of sync");
    FLOWKV_CHECK(r.decode_blocks.empty() || r.decode_block_count >= scenario_.blocks_for_tokens(r.kv_tokens),
                 "KV tokens exceed the blocks held");
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].prefix_cache) held[i] += nodes_[i].prefix_cache->held_blocks();
    FLOWKV_CHECK(held[i] == nodes_[i].kv->num_used(),
                 "node " + nodes_[i].spec->name + ": blocks held by requests and the prefix cache (" + std::to_string(held[i]) +
                     ") differ from the allocator's used count (" + std::to_string(nodes_[i].kv->num_used()) + ")");
    FLOWKV_CHECK(nodes_[i].queued_prefill_tokens >= 0, "negative queued prefill tokens");
    FLOWKV_CHECK(nodes_[i].assigned_decode_tokens >= 0, "negative assigned decode tokens");
  }
}

}  // namespace flowkv::core
