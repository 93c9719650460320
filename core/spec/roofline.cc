#include "core/spec/roofline.h"

#include <algorithm>
#include <cmath>

namespace flowkv::core {

Roofline Roofline::make(const ModelSpec& model, const NodeSpec& node, const CostModelSpec& cost) {
  Roofline r;
  const double gpus = node.gpus();
  const double scale = gpus * (node.gpus() > 1 ? cost.tp_efficiency : 1.0);
  r.flops_per_s = node.gpu.bf16_flops * cost.compute_efficiency * scale;
  r.bytes_per_s = node.gpu.hbm_bytes_per_s * cost.memory_efficiency * scale;

  // Every weight a token runs through, the embedding table counted as the dense model always
  // counted it (a lookup, but 2 FLOPs per parameter here: 1-5% high). A W8A8 model's quantized
  // matmuls run at the GPU's FP8 peak; a GPU without one runs them at its bf16 peak.
  const ParamCounts p = model.params();
  const int64_t chosen_experts =
      model.is_moe() ? p.routed_experts / model.moe.num_experts * model.moe.experts_per_token : 0;
  const int64_t through = p.total() - p.routed_experts + chosen_experts;
  const int64_t fp8 = model.quant.activations ? model.active_quantized_params() : 0;
  const double fp8_rate = node.gpu.fp8_flops > 0 ? node.gpu.bf16_flops / node.gpu.fp8_flops : 1.0;
  r.matmul_flops_per_token = 2.0 * (static_cast<double>(through - fp8) + static_cast<double>(fp8) * fp8_rate);

  if (model.is_mla()) {
    // Prefill runs MLA as multi-head attention over up-projected keys and values; decode runs the
    // absorbed form, scores and outputs in the kv_lora_rank latent (DeepSeek-V2, section 2.1.2).
    const double heads = model.num_heads;
    const double qk = model.mla.qk_nope_head_dim + model.mla.qk_rope_head_dim;
    const double per_layer = 2.0 * heads * (qk + model.mla.v_head_dim);
    const double absorbed = 2.0 * heads * (2.0 * model.mla.kv_lora_rank + model.mla.qk_rope_head_dim);
    r.attention_flops_per_pair = per_layer * model.num_layers;
    r.decode_extra_flops_per_pair = (absorbed - per_layer) * model.num_layers;
    r.window_flops_per_pair = per_layer * model.window.num_layers;
    r.window_decode_extra_flops_per_pair = (absorbed - per_layer) * model.window.num_layers;
  } else {
    r.attention_flops_per_pair = 4.0 * model.num_layers * model.num_heads * model.head_dim;
    r.window_flops_per_pair = 4.0 * model.window.num_layers * model.num_heads * model.head_dim;
  }

  // Each attention replica reads its own copy of everything but the routed experts.
  const int64_t experts = model.routed_expert_bytes();
  r.static_bytes = static_cast<double>(node.data_parallel_attention * (model.weight_bytes() - experts));
  if (model.is_moe()) {
    r.expert_bytes = static_cast<double>(model.expert_bytes()) * model.moe.num_moe_layers;
    r.num_experts = model.moe.num_experts;
    r.experts_per_token = model.moe.experts_per_token;
  }
  r.kv_bytes_per_token = static_cast<double>(model.kv_bytes_per_token()) * node.kv_replication;
  if (model.window.num_layers > 0) {
    r.window_tokens = model.window.tokens;
    r.window_kv_bytes_per_token =
        static_cast<double>(model.kv_bytes_per_token_per_layer() * model.window.num_layers) * node.kv_replication;
  }

  if (model.is_moe() && node.expert_parallel > 1) {
    // Each token's hidden state goes to its k experts (dispatch, FP8 for a W8A8 model as DeepEP
    // sends it) and comes back (combine, bf16); (EP - 1) / EP of the experts are on other GPUs.
    const double ep = node.expert_parallel;
    const double dispatch = model.quant.activations ? 1.0 : 2.0;
    r.a2a_bytes_per_token = static_cast<double>(model.moe.num_moe_layers) * model.moe.experts_per_token *
                            model.hidden_size * (dispatch + 2.0) * (ep - 1) / ep;
    r.a2a_bytes_per_s = node.interconnect.bytes_per_s * gpus;
    r.a2a_seconds_per_iteration = 2.0 * model.moe.num_moe_layers * node.interconnect.per_call_latency.seconds();
    r.a2a_overlap = cost.ep_overlap;
  }
  r.plain = r.decode_extra_flops_per_pair == 0 && r.window_tokens == 0 && r.num_experts == 0 &&
            r.a2a_bytes_per_token == 0;
  r.overhead = cost.iteration_overhead;
  return r;
}

double Roofline::experts_touched(double tokens) const {
  if (num_experts <= 0 || tokens <= 0) return 0;
  return num_experts * (1.0 - std::pow(1.0 - experts_per_token / num_experts, tokens));
}

double Roofline::pairs_beyond_window(double cached, double chunk) const {
  const double w = static_cast<double>(window_tokens);
  if (cached + chunk <= w) return 0;
  const double full = chunk * cached + chunk * (chunk + 1) / 2;
  if (cached >= w) return full - chunk * w;
  const double inside = w - cached;  // tokens of the chunk whose window still reaches token 0
  return full - (inside * cached + inside * (inside + 1) / 2 + (chunk - inside) * w);
}

double Roofline::seconds_with_families(double flops, double bytes, double tokens, double decode_pairs,
                                       double excess_prefill_pairs, double excess_decode_pairs,
                                       double excess_read) const {
  // Only the terms that apply, so that a model with none of them would get the plain figures
  // bit for bit (the dense path above does not come here at all).
  if (decode_extra_flops_per_pair != 0) flops += decode_extra_flops_per_pair * decode_pairs;
  if (window_tokens > 0) {
    flops -= window_flops_per_pair * (excess_prefill_pairs + excess_decode_pairs) +
             window_decode_extra_flops_per_pair * excess_decode_pairs;
    bytes -= window_kv_bytes_per_token * excess_read;
  }
  if (num_experts > 0) bytes += expert_bytes * experts_touched(tokens);
  double s = std::max(flops / flops_per_s, bytes / bytes_per_s);
  if (a2a_bytes_per_token > 0) {
    const double a2a = tokens * a2a_bytes_per_token / a2a_bytes_per_s + a2a_seconds_per_iteration;
    s = a2a_overlap ? std::max(s, a2a) : s + a2a;
  }
  return s;
}

}  // namespace flowkv::core
