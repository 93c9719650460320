#include "core/controller.h"

#include <algorithm>
#include <string>

#include "core/error.h"
#include "core/lru_prefix_cache.h"

namespace flowkv::core {
namespace {

// WorkId layout: [seq:32][index:30][kind:2]; index is a node or a slot.
constexpr uint64_t kIterationWork = 0;
constexpr uint64_t kTransferWork = 1;
constexpr uint64_t kFlipWork = 2;
constexpr uint64_t kTimerWork = 3;
constexpr uint64_t kIndexMask = (uint64_t{1} << 30) - 1;

uint64_t work_kind(WorkId id) { return to_int(id) & 3; }
uint64_t work_index(WorkId id) { return (to_int(id) >> 2) & kIndexMask; }

template <typename Container>
bool erase_value(Container& c, Slot s) {
  auto it = std::find(c.begin(), c.end(), s);
  if (it == c.end()) return false;
  c.erase(it);
  return true;
}

}  // namespace

Controller::Controller(const Scenario& scenario, Backend& backend, ControllerOptions options)
    : scenario_(scenario), backend_(backend), options_(std::move(options)) {
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
      // Pool-sized: as many 512-token blocks as the pool holds tokens (kv.prefix_cache: true).
      const int64_t pool = spec.layout.geometry.num_blocks * spec.layout.geometry.block_size / kPrefixHashBlockTokens;
      n.prefix_cache = std::make_unique<LruPrefixCache>(
          scenario_.prefix_cache_blocks > 0 ? scenario_.prefix_cache_blocks : std::max<int64_t>(pool, 1));
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
    if (options_.progress && (totals_.events & 0xffff) == 0) {
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

// ---- arrivals and routing ----

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
  const int64_t need = (req.prompt_tokens + req.output_tokens - 1 + scenario_.block_size - 1) /
                       scenario_.block_size;
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
  // A node with a prefix cache knows what it holds; the policy's figure counts only without one.
  const int64_t cached = p.prefix_cache ? p.prefix_cache->lookup(req) : d.cached_prompt_tokens;
  r.cached_tokens = std::clamp<int64_t>(cached, 0, req.prompt_tokens - 1);
  if (p.prefix_cache) {
    p.prefix_prompt_tokens += req.prompt_tokens;
    p.prefix_hit_tokens += r.cached_tokens;
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

// ---- KV bookkeeping ----

void Controller::note_usage(NodeState& node) {
  const Time now = now_;
  node.used_block_ns += static_cast<double>(node.kv->num_used()) * static_cast<double>((now - node.usage_since).ns());
  node.usage_since = now;
}

bool Controller::allocate_blocks(NodeState& node, int64_t n, BlockList& out) {
  note_usage(node);
  const size_t before = out.size();
  if (!node.kv->allocate(n, out)) return false;
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

void Controller::release_blocks(NodeState& node, BlockList& blocks) {
  if (blocks.empty()) return;
  note_usage(node);
  node.kv->free(blocks);
  blocks.clear();
  mark(node);
}

bool Controller::start_prefill(NodeState& node, Slot slot) {
  LiveRequest& r = live_[slot];
  FLOWKV_CHECK(node.id == r.prefill_node, "prefill started on the wrong node");
  const int64_t n = (r.prefill_target + scenario_.block_size - 1) / scenario_.block_size;
  BlockList& target = r.colocated() ? r.decode_blocks : r.prefill_blocks;
  FLOWKV_CHECK(target.empty(), "prefill started while holding blocks");
  if (!allocate_blocks(node, n, target)) return false;
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
  release_blocks(node, r.decode_blocks);
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
  if (p.down) {  // its prefill node has failed since: recompute elsewhere (core/recovery.h)
    recover(slot, RecoverySituation::kQueued, &p);
    return;
  }
  p.waiting.push_front(slot);
  p.queued_prefill_tokens += r.prefill_target;
  mark(p);
}

// ---- iterations ----

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
      *item++ = DecodeItem{r.id, r.kv_tokens};
      context += r.kv_tokens;
    }
  } else {
    node.it_decode.clear();
  }
  int64_t prefill_tokens = 0;
  for (const PrefillItem& p : node.it_prefill) prefill_tokens += p.num_tokens;
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
  if (node.prefix_cache) node.prefix_cache->insert(*r.request, now_);
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

// ---- transfers ----

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
  submit(Transfer{r.transfer, r.id, p.id, d.id, cost.calls, cost.bytes, cost.local_copies});
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
    release_blocks(d, r.decode_blocks);
    r.decode_block_count = 0;
    on_transfer_failed(slot);
    return;
  }
  FLOWKV_CHECK(!d.down, "a transfer into a failed node completed");
  r.transfer_failures = 0;
  release_blocks(p, r.prefill_blocks);
  ++d.transfers_in;
  r.kv_tokens = r.prefill_target;
  if (r.tokens == 0) rec.transfer_end = now_;
  deliver_token(slot);
  d.ready.push_back(slot);
  mark(d);
}

// ---- role flips and timers ----

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

// ---- request ends ----

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
}

void Controller::flush_itl() {
  if (itl_run_ > 0) itl_.add(itl_gap_, itl_run_);
  itl_run_ = 0;
}

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
  ++totals_.completed;
  --in_system_;
  release_blocks(nodes_[to_int(r.prefill_node)], r.prefill_blocks);
  release_blocks(nodes_[to_int(r.decode_node)], r.decode_blocks);
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
  ++totals_.failed;
  --in_system_;
  release_blocks(p, r.prefill_blocks);
  release_blocks(d, r.decode_blocks);
  free_slot(slot);
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
  prefill.clear();
  decode.clear();
  r = LiveRequest{};
  r.prefill_blocks = std::move(prefill);
  r.decode_blocks = std::move(decode);
  free_slots_.push_back(slot);
}

void Controller::check_invariants() const {
  std::vector<int64_t> held(nodes_.size(), 0);
  for (const LiveRequest& r : live_) {
    if (r.request == nullptr) continue;
    held[to_int(r.prefill_node)] += total_blocks(r.prefill_blocks);
    held[to_int(r.decode_node)] += total_blocks(r.decode_blocks);
    FLOWKV_CHECK(r.generated <= r.output_tokens, "request produced more tokens than asked");
    FLOWKV_CHECK(total_blocks(r.decode_blocks) == r.decode_block_count, "decode block count out of sync");
    FLOWKV_CHECK(r.decode_blocks.empty() || r.decode_block_count * scenario_.block_size >= r.kv_tokens,
                 "KV tokens exceed the blocks held");
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    FLOWKV_CHECK(held[i] == nodes_[i].kv->num_used(),
                 "node " + nodes_[i].spec->name + ": blocks held by requests (" + std::to_string(held[i]) +
                     ") differ from the allocator's used count (" + std::to_string(nodes_[i].kv->num_used()) + ")");
    FLOWKV_CHECK(nodes_[i].queued_prefill_tokens >= 0, "negative queued prefill tokens");
    FLOWKV_CHECK(nodes_[i].assigned_decode_tokens >= 0, "negative assigned decode tokens");
  }
}

}  // namespace flowkv::core
