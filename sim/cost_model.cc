#include "sim/cost_model.h"

#include <algorithm>

namespace flowkv::sim {

ComputeModel::ComputeModel(const core::ModelSpec& model, const core::NodeSpec& node,
                           const core::CostModelSpec& cost)
    : roofline_(core::Roofline::make(model, node, cost)) {}

core::Duration ComputeModel::time_for(double tokens, double pairs, double kv_read, double kv_written) const {
  return roofline_.overhead + core::Duration::from_seconds(roofline_.seconds(tokens, pairs, kv_read, kv_written));
}

core::Duration ComputeModel::iteration_time(const core::Iteration& it) const {
  const core::Roofline& r = roofline_;
  // The other families in a function of their own: this path, the dense one, calls nothing.
  if (!r.plain) return families_iteration_time(it);
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
  return r.overhead + core::Duration::from_seconds(r.seconds(tokens, pairs, read, tokens));
}

core::Duration ComputeModel::families_iteration_time(const core::Iteration& it) const {
  const core::Roofline& r = roofline_;
  const bool windowed = r.windowed();
  const double w = static_cast<double>(r.window_tokens);
  double pairs = 0, read = 0, excess_prefill = 0, excess_decode = 0, excess_read = 0;
  for (const core::PrefillItem& p : it.prefill) {
    const double c = static_cast<double>(p.num_tokens);
    const double ctx = static_cast<double>(p.context_tokens);
    pairs += c * ctx + c * (c + 1) / 2;
    read += ctx;
    if (windowed) {
      excess_prefill += r.pairs_beyond_window(ctx, c);
      excess_read += std::max(0.0, ctx - w);
    }
  }
  // Windowed layers: per request, the pairs and KV reads beyond each window.
  if (windowed) {
    for (const core::DecodeItem& d : it.decode) {
      const double c = static_cast<double>(d.context_tokens);
      excess_decode += std::max(0.0, c + 1 - w);
      excess_read += std::max(0.0, c - w);
    }
  }
  const double decodes = static_cast<double>(it.decode.size());
  const double ctx = static_cast<double>(it.decode_context_tokens);
  pairs += ctx + decodes;
  read += ctx;
  const double tokens = static_cast<double>(it.num_prefill_tokens) + decodes;
  return r.overhead + core::Duration::from_seconds(r.seconds(tokens, pairs, read, tokens, ctx + decodes,
                                                             excess_prefill, excess_decode, excess_read));
}

}  // namespace flowkv::sim
