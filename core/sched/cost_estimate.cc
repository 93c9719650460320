#include "core/sched/cost_estimate.h"

#include <algorithm>
#include <cmath>

#include "core/spec/scenario.h"

namespace flowkv::core {
namespace {

// A batch parameter of the scenario's "continuous" scheduler, or its default (the defaults of
// core/sched/batch_scheduler.h; another batch policy gets the same defaults).
int64_t batch_param(const Scenario& s, const char* key, int64_t fallback) {
  if (s.batch.name != "continuous" || !s.batch.params.is_object()) return fallback;
  auto it = s.batch.params.find(key);
  if (it == s.batch.params.end() || !it->is_number()) return fallback;
  return static_cast<int64_t>(it->get<double>());
}

}  // namespace

CostEstimator::CostEstimator(const Scenario& s) {
  rates_.reserve(s.nodes.size());
  for (const NodeSpec& n : s.nodes) rates_.push_back(Roofline::make(s.model, n, s.cost));
  kv_shape_ = s.kv_shape;
  overhead_ = s.cost.iteration_overhead;
  max_batched_tokens_ = std::max<int64_t>(2, batch_param(s, "max_batched_tokens", 8192));
  const int64_t seqs = batch_param(s, "max_num_seqs", 256);
  max_decode_batch_ = std::max<int64_t>(
      1, std::min({batch_param(s, "max_decode_batch", seqs), seqs, max_batched_tokens_ - 1}));
  block_size_ = s.block_size;
  slo_ttft_s_ = s.slo.ttft_s;
  slo_tpot_s_ = s.slo.tpot_s;
}

Duration CostEstimator::prefill(NodeId node, int64_t tokens, int64_t cached) const {
  const Roofline& r = rates_[to_int(node)];
  const double c = static_cast<double>(std::max<int64_t>(tokens, 0));
  const double p = static_cast<double>(std::max<int64_t>(cached, 0));
  // KV read: the cached context; written: the new tokens (as the simulator counts them).
  if (!r.windowed()) return overhead_ + Duration::from_seconds(r.seconds(c, c * p + c * (c + 1) / 2, p + c, 0));
  const double w = static_cast<double>(r.window_tokens);
  return overhead_ + Duration::from_seconds(r.seconds(c, c * p + c * (c + 1) / 2, p, c, 0,
                                                      r.pairs_beyond_window(p, c), 0, std::max(0.0, p - w)));
}

Duration CostEstimator::backlog(NodeId node, int64_t queued_tokens, int64_t requests) const {
  if (queued_tokens <= 0) return Duration::zero();
  const Roofline& r = rates_[to_int(node)];
  const double q = static_cast<double>(queued_tokens);
  const double n = static_cast<double>(std::max<int64_t>(requests, 1));
  const double per_prompt = q / n;
  // Prompts longer than the budget run alone; shorter ones share iterations up to the budget.
  const double budget = static_cast<double>(max_batched_tokens_);
  const double iterations = per_prompt > budget ? n : std::ceil(q / budget);
  double pairs = n * per_prompt * (per_prompt + 1) / 2;
  if (r.windowed()) pairs -= n * r.pairs_beyond_window(0, per_prompt) * r.window_flops_per_pair / r.attention_flops_per_pair;
  const double compute = (r.matmul_flops_per_token * q + r.attention_flops_per_pair * pairs) / r.flops_per_s;
  double weights = r.static_bytes;
  if (r.num_experts > 0) weights += r.expert_bytes * r.experts_touched(q / iterations);
  const double memory = iterations * weights / r.bytes_per_s + r.kv_bytes_per_token * q / r.bytes_per_s;
  return overhead_ * static_cast<int64_t>(iterations) + Duration::from_seconds(std::max(compute, memory));
}

Duration CostEstimator::decode_step(NodeId node, int64_t batch, int64_t context_tokens) const {
  if (batch <= 0) return Duration::zero();
  const Roofline& r = rates_[to_int(node)];
  const double b = static_cast<double>(batch);
  const double ctx = static_cast<double>(std::max<int64_t>(context_tokens, 0));
  if (!r.windowed()) return overhead_ + Duration::from_seconds(r.seconds(b, ctx + b, ctx + b, 0, ctx + b));
  // The context taken as spread evenly over the batch.
  const double w = static_cast<double>(r.window_tokens);
  const double each = ctx / b;
  return overhead_ + Duration::from_seconds(r.seconds(b, ctx + b, ctx, b, ctx + b, 0,
                                                      b * std::max(0.0, each + 1 - w), b * std::max(0.0, each - w)));
}

Duration CostEstimator::decode_step_now(const NodeLoad& n, int64_t extra_requests, int64_t extra_tokens) const {
  // The node's used blocks stand for the KV its decode batch reads (on a decode node nearly all
  // of them belong to the batch or are about to).
  const int64_t context = (n.kv_total_blocks - n.kv_free_blocks) * block_size_ + extra_tokens;
  return decode_step(n.id, n.running_decode + extra_requests, context);
}

Duration CostEstimator::prefill_finish(const NodeLoad& n, int64_t prompt_tokens, int64_t cached) const {
  return backlog(n.id, n.queued_prefill_tokens, n.queued_prefill_requests) +
         prefill(n.id, prompt_tokens - cached, cached);
}

double CostEstimator::prefill_load(const NodeLoad& n) const {
  return backlog(n.id, n.queued_prefill_tokens, n.queued_prefill_requests).seconds() / slo_ttft_s_;
}

double CostEstimator::decode_load(const NodeLoad& n) const {
  const double step = decode_step_now(n).seconds() / slo_tpot_s_;
  const double batch = static_cast<double>(n.running_decode + n.waiting_decode) /
                       static_cast<double>(max_decode_batch_);
  return std::max({n.kv_usage, step, batch});
}

std::tuple<int64_t, int64_t, uint32_t> CostEstimator::decode_preference(const NodeLoad& n) const {
  return {static_cast<int64_t>(std::llround(decode_load(n) * 100)), n.assigned_decode_tokens, to_int(n.id)};
}

}  // namespace flowkv::core
