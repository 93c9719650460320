// "continuous" batch scheduler: vLLM-like continuous batching (see core/sched/batch_scheduler.h for
// the parameters and their defaults).
#include <algorithm>

#include "core/base/json_check.h"
#include "core/sched/batch_scheduler.h"
#include "core/spec/scenario.h"

namespace flowkv::core {
namespace {

struct ContinuousParams {
  bool prefill_first = true;
  int64_t max_batched_tokens = 8192;
  int64_t max_num_seqs = 256;
  int64_t max_decode_batch = 256;
  bool chunked_prefill = false;
};

class ContinuousBatch final : public BatchScheduler {
 public:
  ContinuousBatch(const ContinuousParams& p, const KvGeometry& shape)
      : p_(p), shape_(shape), block_size_(shape.block_size), windowed_(shape.window_layers > 0) {}

  void plan(NodeState& node, BatchOps& ops) override {
    node.it_prefill.clear();
    node.it_prefill_slots.clear();
    node.it_decodes = false;
    while (!node.ready.empty() && static_cast<int64_t>(node.decoding.size()) < p_.max_decode_batch) {
      node.decoding.push_back(node.ready.front());
      node.ready.pop_front();
    }
    int64_t budget = p_.max_batched_tokens;
    if (p_.prefill_first && !p_.chunked_prefill) {
      plan_prefills(node, ops, budget);
      if (node.it_prefill.empty()) plan_decodes(node, ops, budget);
      return;
    }
    plan_decodes(node, ops, budget);
    plan_prefills(node, ops, budget);
  }

 private:
  // Every request of the decode batch steps; one that needs a block it cannot get makes the
  // youngest request of the batch give its KV back (recompute later), possibly itself.
  void plan_decodes(NodeState& node, BatchOps& ops, int64_t& budget) {
    // The test for a new block runs per request per step: chosen once, outside the loop.
    if (windowed_) {
      plan_decodes<true>(node, ops, budget);
    } else {
      plan_decodes<false>(node, ops, budget);
    }
  }

  template <bool kWindowed>
  void plan_decodes(NodeState& node, BatchOps& ops, int64_t& budget) {
    size_t i = 0;
    while (i < node.decoding.size()) {
      // Slots are scattered over the pool: fetch a few requests ahead (a hint, changes nothing).
      if (i + 6 < node.decoding.size()) __builtin_prefetch(&ops.request(node.decoding[i + 6]));
      const Slot s = node.decoding[i];
      const LiveRequest& r = ops.request(s);
      // A new block when the next token's KV no longer fits (windowed layers: when its packed
      // chunks no longer do, KvGeometry::blocks_for_tokens).
      if (kWindowed ? shape_.blocks_for_tokens(r.kv_tokens + 1) > r.decode_block_count
                    : r.kv_tokens + 1 > r.decode_block_count * block_size_) {
        bool preempted_self = false;
        while (!ops.grow(node, s)) {
          const Slot victim = node.decoding.back();
          node.decoding.pop_back();
          ops.preempt(node, victim);
          if (victim == s) {
            preempted_self = true;
            break;
          }
        }
        if (preempted_self) break;  // s was the youngest: nothing after it
      }
      ++i;
    }
    if (!node.decoding.empty()) {
      node.it_decodes = true;
      budget -= static_cast<int64_t>(node.decoding.size());
    }
  }

  void add(NodeState& node, Slot s, const LiveRequest& r, int64_t chunk) {
    node.it_prefill.push_back(PrefillItem{r.id, chunk, r.prefill_done, {}});
    node.it_prefill_slots.push_back(s);
  }

  void plan_prefills(NodeState& node, BatchOps& ops, int64_t& budget) {
    bool any = false;
    for (const Slot s : node.prefilling) {
      if (budget <= 0) break;
      const LiveRequest& r = ops.request(s);
      const int64_t remaining = r.prefill_target - r.prefill_done;
      if (!p_.chunked_prefill && remaining > budget && any) break;
      const int64_t chunk = p_.chunked_prefill ? std::min(remaining, budget) : remaining;
      add(node, s, r, chunk);
      budget -= std::max<int64_t>(chunk, 1);
      any = true;
    }
    int64_t running = static_cast<int64_t>(node.prefilling.size() + node.decoding.size() + node.ready.size());
    while (!node.waiting.empty() && budget > 0 && running < p_.max_num_seqs) {
      const Slot s = node.waiting.front();
      const LiveRequest& r = ops.request(s);
      const int64_t remaining = r.prefill_target - r.cached_tokens;
      if (!p_.chunked_prefill && remaining > budget && any) break;
      if (!ops.start_prefill(node, s)) break;  // FCFS: wait for memory, do not skip ahead
      node.waiting.pop_front();
      node.prefilling.push_back(s);
      ++running;
      // Starting the prefill took the prefix cache's hit, which may differ from the estimate.
      const int64_t left = r.prefill_target - r.prefill_done;
      const int64_t chunk = p_.chunked_prefill ? std::min(left, budget) : left;
      add(node, s, r, chunk);
      budget -= std::max<int64_t>(chunk, 1);
      any = true;
    }
  }

  ContinuousParams p_;
  KvGeometry shape_;
  int32_t block_size_;
  bool windowed_;
};

std::unique_ptr<BatchScheduler> make(const PolicyContext& c) {
  const std::string& path = c.json_path;
  jcheck::check_object(c.params, path, {"order", "max_batched_tokens", "max_num_seqs", "max_decode_batch", "chunked_prefill"});
  ContinuousParams p;
  if (const auto* v = jcheck::member(c.params, "order")) {
    const std::string order = jcheck::string(*v, path + ".order");
    if (order == "prefill-first") {
      p.prefill_first = true;
    } else if (order == "decode-first") {
      p.prefill_first = false;
    } else {
      jcheck::fail(path + ".order", "\"prefill-first\" or \"decode-first\"", *v);
    }
  }
  if (const auto* v = jcheck::member(c.params, "max_batched_tokens")) p.max_batched_tokens = jcheck::integer(*v, path + ".max_batched_tokens", 2);
  if (const auto* v = jcheck::member(c.params, "max_num_seqs")) p.max_num_seqs = jcheck::integer(*v, path + ".max_num_seqs", 1);
  p.max_decode_batch = p.max_num_seqs;
  if (const auto* v = jcheck::member(c.params, "max_decode_batch")) p.max_decode_batch = jcheck::integer(*v, path + ".max_decode_batch", 1);
  if (const auto* v = jcheck::member(c.params, "chunked_prefill")) p.chunked_prefill = jcheck::boolean(*v, path + ".chunked_prefill");
  // Decodes must leave room in the budget for prefills, or mixed iterations would starve them.
  p.max_decode_batch = std::min({p.max_decode_batch, p.max_num_seqs, p.max_batched_tokens - 1});
  return std::make_unique<ContinuousBatch>(p, c.scenario.kv_shape);
}

FLOWKV_REGISTER_BATCH_SCHEDULER("continuous", "vLLM-like continuous batching", make);

}  // namespace
}  // namespace flowkv::core
