#include "sim/cost_model.h"

#include <algorithm>

namespace flowkv::sim {

ComputeModel::ComputeModel(const core::ModelSpec& model, const core::NodeSpec& node,
                           const core::CostModelSpec& cost) {
  const double tp = node.tensor_parallel;
  const double scale = tp * (node.tensor_parallel > 1 ? cost.tp_efficiency : 1.0);
  flops_per_s_ = node.gpu.bf16_flops * cost.compute_efficiency * scale;
  bytes_per_s_ = node.gpu.hbm_bytes_per_s * cost.memory_efficiency * scale;
  params_ = static_cast<double>(model.num_params());
  weight_bytes_ = static_cast<double>(model.weight_bytes());
  kv_bytes_per_token_ = static_cast<double>(model.kv_bytes_per_token());
  attention_flops_per_pair_ = 4.0 * model.num_layers * model.num_heads * model.head_dim;
  overhead_ = cost.iteration_overhead;
}

core::Duration ComputeModel::time_for(double tokens, double pairs, double kv_read, double kv_written) const {
  const double flops = 2.0 * params_ * tokens + attention_flops_per_pair_ * pairs;
  const double bytes = weight_bytes_ + kv_bytes_per_token_ * (kv_read + kv_written);
  const double seconds = std::max(flops / flops_per_s_, bytes / bytes_per_s_);
  return overhead_ + core::Duration::from_seconds(seconds);
}

core::Duration ComputeModel::iteration_time(const core::Iteration& it) const {
  double pairs = 0, read = 0;
  for (const core::PrefillItem& p : it.prefill) {
    const double c = static_cast<double>(p.num_tokens);
    const double ctx = static_cast<double>(p.context_tokens);
    pairs += c * ctx + c * (c + 1) / 2;
    read += ctx;
  }
  const double decodes = static_cast<double>(it.decode.size());
  const double ctx = static_cast<double>(it.decode_context_tokens);
  pairs += ctx + decodes;
  read += ctx;
  const double tokens = static_cast<double>(it.num_prefill_tokens) + decodes;
  return time_for(tokens, pairs, read, tokens);
}

}  // namespace flowkv::sim
