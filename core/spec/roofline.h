// Roofline: what one iteration of a node costs, as the simulator's ComputeModel
// (sim/cost_model.h) charges it and the policies' CostEstimator (core/sched/cost_estimate.h)
// predicts it. Both build their figures here, so they agree by construction.
//
//   time = overhead + max(flops / flops_per_s, bytes / bytes_per_s)  [+ all-to-all]
//   flops = matmul_flops_per_token * tokens                   (2 x the weights a token runs through,
//                                                               FP8 matmuls at the FP8 rate)
//         + attention_flops_per_pair * pairs                  (attended (query, key) pairs)
//         + decode_extra_flops_per_pair * decode pairs        (MLA's absorbed decode form)
//         - window_flops_per_pair * pairs beyond the windows  (windowed layers stop at their window)
//   bytes = static_bytes                                      (weights read every iteration)
//         + expert_bytes * E (1 - (1 - k/E)^tokens)           (routed experts the batch touches)
//         + kv_bytes_per_token * (KV read + KV written)
//         - window_kv_bytes_per_token * KV read beyond the windows
//
// docs/simulator.md ("Cost model") derives each term. For a dense model without windows every
// extra term is zero and the figures are those of the plain roofline, bit for bit.
// A Roofline is a value: immutable after make(), safe to share between threads.
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/base/time.h"
#include "core/spec/scenario.h"

namespace flowkv::core {

struct Roofline {
  double flops_per_s = 0;                  // bf16 peak x compute_efficiency x GPUs (x tp_efficiency)
  double bytes_per_s = 0;                  // HBM peak x memory_efficiency x GPUs (x tp_efficiency)
  double matmul_flops_per_token = 0;       // in bf16-peak units
  double attention_flops_per_pair = 0;     // all layers, the prefill (MHA) form
  double decode_extra_flops_per_pair = 0;  // all layers: absorbed MLA decode minus the prefill form
  double window_flops_per_pair = 0;        // the windowed layers' share of attention_flops_per_pair
  double window_decode_extra_flops_per_pair = 0;  // their share of decode_extra_flops_per_pair
  double static_bytes = 0;                 // weights read by every iteration
  double expert_bytes = 0;                 // one routed expert in every MoE layer
  double num_experts = 0;
  double experts_per_token = 0;
  double kv_bytes_per_token = 0;           // all layers, x the node's KV replication
  double window_kv_bytes_per_token = 0;    // the windowed layers' share
  int64_t window_tokens = 0;               // 0: no windowed layer
  double a2a_bytes_per_token = 0;          // expert-parallel dispatch + combine, all MoE layers
  double a2a_bytes_per_s = 0;              // the node's GPUs' interconnect links together
  double a2a_seconds_per_iteration = 0;    // per-call latency of the all-to-alls
  bool a2a_overlap = false;                // hidden behind compute (cost_model.ep_overlap)
  bool plain = true;                       // none of the terms below the first two lines apply
  Duration overhead;

  static Roofline make(const ModelSpec& model, const NodeSpec& node, const CostModelSpec& cost);

  bool windowed() const { return window_tokens > 0; }
  // Expected number of distinct experts `tokens` tokens touch, each choosing k of E uniformly.
  double experts_touched(double tokens) const;
  // Attended pairs a windowed layer skips: a chunk of `c` new tokens after `p` cached ones
  // attends c*p + c*(c+1)/2 pairs in a full layer, sum over i of min(p + i, window) in a windowed one.
  double pairs_beyond_window(double cached, double chunk) const;

  // Seconds of one iteration (without the overhead) from its totals.
  //   tokens: tokens through the weights; pairs: attended pairs; decode_pairs: those of decode
  //   steps; excess_*: pairs and KV reads beyond the windows (0 without windowed layers).
  // Inline: the simulator calls it once per iteration, and a dense model takes the first return.
  double seconds(double tokens, double pairs, double kv_read, double kv_written,
                 double decode_pairs = 0, double excess_prefill_pairs = 0,
                 double excess_decode_pairs = 0, double excess_read = 0) const {
    const double flops = matmul_flops_per_token * tokens + attention_flops_per_pair * pairs;
    const double bytes = static_bytes + kv_bytes_per_token * (kv_read + kv_written);
    if (plain) return std::max(flops / flops_per_s, bytes / bytes_per_s);
    return seconds_with_families(flops, bytes, tokens, decode_pairs, excess_prefill_pairs,
                                 excess_decode_pairs, excess_read);
  }

 private:
  double seconds_with_families(double flops, double bytes, double tokens, double decode_pairs,
                               double excess_prefill_pairs, double excess_decode_pairs,
                               double excess_read) const;
};

}  // namespace flowkv::core
