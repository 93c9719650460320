// CostEstimator: what a scheduling policy may predict about the work it routes, from the same
// roofline the simulator charges (sim/cost_model.h), so that estimates and the simulated run
// agree by construction (tests/sim/cost_estimate_test.cc holds them together).
//
//   iteration time = overhead + max(flops / (peak_flops * compute_efficiency * GPUs),
//                                   bytes / (hbm_bytes_per_s * memory_efficiency * GPUs))
//   flops = 2 * params * tokens + attention FLOPs per pair * attended pairs
//   bytes = weights + KV read + KV written
// (core/spec/roofline.h, the one definition both use; for windowed layers the estimates take the
// context as spread evenly over the batch).
//
// It is built from the scenario only (model, node GPUs, cost_model.*, the batch scheduler's
// token budget and SLOs), never from backend state: in the live runtime the same figures are the
// controller's prior. The load scores below are the one definition the FlowKV role controllers
// and the load-aware routers share (docs/scheduling.md):
//
//   prefill load of a node = backlog(queued prefill tokens) / slo.ttft_s
//       (seconds of queued prompt work per second of TTFT budget: 1 = a new request would wait
//        its whole TTFT budget in the queue)
//   decode load of a node  = max(KV usage, decode step time / slo.tpot_s,
//                                (running + waiting decodes) / max_decode_batch)
//
// Immutable after construction; safe to share between threads.
#pragma once

#include <cstdint>
#include <tuple>
#include <vector>

#include "core/base/time.h"
#include "core/sched/load_snapshot.h"
#include "core/spec/roofline.h"

namespace flowkv::core {

struct Scenario;

class CostEstimator {
 public:
  explicit CostEstimator(const Scenario& scenario);

  // One prefill of `tokens` new prompt tokens after `cached` tokens whose KV exists.
  Duration prefill(NodeId node, int64_t tokens, int64_t cached = 0) const;
  // Working off `queued_tokens` prompt tokens spread over `requests` prompts, in iterations of
  // at most the batch scheduler's token budget (the prompts taken as equally long).
  Duration backlog(NodeId node, int64_t queued_tokens, int64_t requests) const;
  // One decode step of `batch` requests holding `context_tokens` tokens of KV in all.
  Duration decode_step(NodeId node, int64_t batch, int64_t context_tokens) const;

  // From now until a new prompt of `prompt_tokens` (of which `cached` are in the node's prefix
  // cache) has been prefilled on node n: the queue ahead of it, then its own prefill.
  Duration prefill_finish(const NodeLoad& n, int64_t prompt_tokens, int64_t cached) const;

  double prefill_load(const NodeLoad& n) const;
  double decode_load(const NodeLoad& n) const;
  // The order in which load-aware routers prefer decode nodes: decode load rounded to 0.01 (a
  // smaller difference is noise), then fewer output tokens still to produce there (requests
  // still prefilling elsewhere count: without this every request of a burst herds to the node
  // that looked least loaded before their KV arrived), then the lower id.
  std::tuple<int64_t, int64_t, uint32_t> decode_preference(const NodeLoad& n) const;
  // Decode step time of the node as it is now, with `extra_requests` more holding `extra_tokens`.
  Duration decode_step_now(const NodeLoad& n, int64_t extra_requests = 0, int64_t extra_tokens = 0) const;

  int64_t max_batched_tokens() const { return max_batched_tokens_; }
  int64_t max_decode_batch() const { return max_decode_batch_; }
  int32_t block_size() const { return block_size_; }
  // Blocks a request of `tokens` tokens holds (windowed layers keep part of it).
  int64_t blocks_for_tokens(int64_t tokens) const { return kv_shape_.blocks_for_tokens(tokens); }
  double slo_ttft_s() const { return slo_ttft_s_; }
  double slo_tpot_s() const { return slo_tpot_s_; }

 private:
  std::vector<Roofline> rates_;  // indexed by NodeId
  KvGeometry kv_shape_;
  Duration overhead_;
  int64_t max_batched_tokens_ = 8192;
  int64_t max_decode_batch_ = 256;
  int32_t block_size_ = 16;
  double slo_ttft_s_ = 2.0;
  double slo_tpot_s_ = 0.1;
};

}  // namespace flowkv::core
