// ComputeModel: how long one iteration takes on one node, from a roofline of the model on the
// node's GPUs.
//
//   flops  = 2 * params * tokens                       (every token through every weight)
//          + 4 * layers * heads * head_dim * pairs     (QK^T and PV; pairs = attended
//                                                       (query, key) pairs: a prefill chunk
//                                                       of c tokens after p cached ones
//                                                       attends c*p + c*(c+1)/2, a decode
//                                                       step context + 1)
//   bytes  = weight bytes + KV bytes read (context of every item) + KV bytes written
//   time   = overhead + max(flops / (peak_flops * compute_efficiency * TP),
//                           bytes / (hbm_bytes_per_s * memory_efficiency * TP))
// where TP = tensor_parallel, times tp_efficiency when > 1. Efficiencies and the per-iteration
// overhead are scenario parameters (cost_model.*). Pure and cheap: O(prefill items).
#pragma once

#include "core/spec/model_spec.h"
#include "core/spec/scenario.h"
#include "core/work/work.h"

namespace flowkv::sim {

class ComputeModel {
 public:
  ComputeModel(const core::ModelSpec& model, const core::NodeSpec& node, const core::CostModelSpec& cost);

  core::Duration iteration_time(const core::Iteration& it) const;
  // The same for a batch given by its totals (tests, estimates).
  core::Duration time_for(double tokens, double attention_pairs, double kv_tokens_read,
                          double kv_tokens_written) const;

 private:
  double flops_per_s_ = 0;
  double bytes_per_s_ = 0;
  double params_ = 0;
  double weight_bytes_ = 0;
  double kv_bytes_per_token_ = 0;
  double attention_flops_per_pair_ = 0;
  core::Duration overhead_;
};

}  // namespace flowkv::sim
