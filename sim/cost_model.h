// ComputeModel: how long one iteration takes on one node, from a roofline of the model on the
// node's GPUs (core/spec/roofline.h, which the policies' CostEstimator shares):
//
//   flops  = 2 * params * tokens                       (every token through every weight it uses:
//                                                       all of a dense model's, the chosen experts
//                                                       of an MoE; FP8 matmuls at the FP8 rate)
//          + attention FLOPs per pair * pairs          (QK^T and PV, or MLA's forms; pairs =
//                                                       attended (query, key) pairs: a prefill
//                                                       chunk of c tokens after p cached ones
//                                                       attends c*p + c*(c+1)/2, a decode step
//                                                       context + 1; windowed layers stop at
//                                                       their window)
//   bytes  = weight bytes (the routed experts the batch touches) + KV bytes read + KV written
//   time   = overhead + max(flops / (peak_flops * compute_efficiency * GPUs),
//                           bytes / (hbm_bytes_per_s * memory_efficiency * GPUs))
//            [+ the expert-parallel all-to-all]
// where GPUs = tensor_parallel x data_parallel_attention, times tp_efficiency when > 1.
// Efficiencies and the per-iteration overhead are scenario parameters (cost_model.*). Pure and
// cheap: O(prefill items), and O(decode items) only for a model with windowed layers.
#pragma once

#include "core/spec/model_spec.h"
#include "core/spec/roofline.h"
#include "core/spec/scenario.h"
#include "core/work/work.h"

namespace flowkv::sim {

class ComputeModel {
 public:
  ComputeModel(const core::ModelSpec& model, const core::NodeSpec& node, const core::CostModelSpec& cost);

  core::Duration iteration_time(const core::Iteration& it) const;
  // The same for a batch given by its totals (tests, estimates): no windows applied, every pair
  // in the prefill form.
  core::Duration time_for(double tokens, double attention_pairs, double kv_tokens_read,
                          double kv_tokens_written) const;
  const core::Roofline& roofline() const { return roofline_; }

 private:
  core::Duration families_iteration_time(const core::Iteration& it) const;  // MoE, MLA, windows, EP

  core::Roofline roofline_;
};

}  // namespace flowkv::sim
