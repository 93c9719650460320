#include "runtime/cuda/forward.h"

#include <algorithm>

#include "kernels/argmax.h"
#include "kernels/embedding.h"
#include "kernels/kv_write.h"
#include "kernels/rms_norm.h"
#include "kernels/rope.h"
#include "kernels/swiglu.h"

namespace flowkv::runtime {
namespace {

using kernels::GemmOutput;
using kernels::GemmShape;

int64_t qkv_width(const core::ModelSpec& s) {
  return int64_t{s.num_heads + 2 * s.num_kv_heads} * s.head_dim;
}

// Sizes of the buffers, in the order of ForwardBuffers' members.
struct Sizes {
  int64_t residual, normed, qkv, attn, gate_up, act, logits, next, partial_out, partial_ml;
};

Sizes sizes(const core::ModelSpec& s, int64_t n, int64_t ns, int64_t slots) {
  const int64_t hidden = s.hidden_size;
  const int64_t q_dim = int64_t{s.num_heads} * s.head_dim;
  n = std::max<int64_t>(n, 1);
  return Sizes{n * hidden * 4,
               n * hidden * 2,
               n * qkv_width(s) * 2,
               n * q_dim * 2,
               n * 2 * s.intermediate_size * 2,
               n * s.intermediate_size * 2,
               ns * s.vocab_size * 4,
               ns * 4,
               slots * q_dim * 4,
               slots * s.num_heads * 8};
}

void grow(DeviceBuffer& b, int64_t bytes) {
  if (b.bytes() >= bytes) return;
  b = DeviceBuffer();  // free first: the old and new buffer need not fit together
  b = DeviceBuffer(bytes + bytes / 4);
}

}  // namespace

ModelGemmShapes model_gemm_shapes(const core::ModelSpec& s) {
  const int64_t hidden = s.hidden_size;
  return ModelGemmShapes{
      GemmShape{qkv_width(s), hidden, GemmOutput::kBf16, false},
      GemmShape{hidden, int64_t{s.num_heads} * s.head_dim, GemmOutput::kF32, true},
      GemmShape{2 * int64_t{s.intermediate_size}, hidden, GemmOutput::kBf16, false},
      GemmShape{hidden, s.intermediate_size, GemmOutput::kF32, true},
      GemmShape{s.vocab_size, hidden, GemmOutput::kF32, false},
  };
}

int64_t ForwardBuffers::bytes_for(const core::ModelSpec& spec, int64_t num_tokens,
                                  int64_t num_sampled, int64_t num_slots) {
  const Sizes z = sizes(spec, num_tokens, num_sampled, num_slots);
  const int64_t sum = z.residual + z.normed + z.qkv + z.attn + z.gate_up + z.act + z.logits +
                      z.next + z.partial_out + z.partial_ml;
  return sum + sum / 4;  // grow() keeps a quarter more
}

void ForwardBuffers::reserve(const core::ModelSpec& spec, int64_t num_tokens, int64_t num_sampled,
                             int64_t num_slots) {
  const Sizes z = sizes(spec, num_tokens, num_sampled, num_slots);
  grow(residual, z.residual);
  grow(normed, z.normed);
  grow(qkv, z.qkv);
  grow(attn, z.attn);
  grow(gate_up, z.gate_up);
  grow(act, z.act);
  grow(logits, z.logits);
  grow(next, z.next);
  grow(partial_out, z.partial_out);
  grow(partial_ml, z.partial_ml);
}

void enqueue_forward(const DeviceWeights& weights, const ModelGemmShapes& shapes,
                     const double* inv_freq, const ForwardTables& t, const core::KvLayout& layout,
                     std::byte* pool, ForwardBuffers& b, kernels::GemmRunner& gemm,
                     cudaStream_t stream) {
  const core::ModelSpec& s = weights.spec();
  const int64_t n = t.num_tokens;
  const float eps = static_cast<float>(s.rms_norm_eps);
  float* residual = b.residual.as<float>();
  __nv_bfloat16* normed = b.normed.as<__nv_bfloat16>();
  __nv_bfloat16* qkv = b.qkv.as<__nv_bfloat16>();

  kernels::AttentionArgs attn;
  attn.q = qkv;
  attn.q_stride = qkv_width(s);
  attn.out = b.attn.as<__nv_bfloat16>();
  attn.pool = pool;
  attn.layout = layout;
  attn.num_heads = s.num_heads;
  attn.block_ids = t.block_ids;
  attn.items = t.items;
  attn.prefill = t.prefill;
  attn.num_prefill = t.num_prefill;
  attn.decode = t.decode;
  attn.num_decode = t.num_decode;
  attn.combine = t.combine;
  attn.num_combine = t.num_combine;
  attn.partial_out = b.partial_out.as<float>();
  attn.partial_ml = b.partial_ml.as<float2>();

  kernels::embed_tokens(weights.embed(), t.token_ids, n, s.hidden_size, residual, stream);
  for (int32_t l = 0; l < s.num_layers; ++l) {
    const DeviceLayerWeights& w = weights.layer(l);
    kernels::rms_norm(residual, nullptr, n, s.hidden_size, w.attn_norm, eps, normed, stream);
    gemm.run(shapes.qkv, normed, n, w.qkv, qkv, stream);
    kernels::qkv_bias_rope(qkv, n, s.num_heads, s.num_kv_heads, s.head_dim, w.qkv_bias,
                           t.positions, inv_freq, stream);
    kernels::write_kv(qkv, n, s.num_heads, t.positions, t.token_blocks, layout, l, pool, stream);
    attn.layer = l;
    kernels::attention(attn, stream);
    gemm.run(shapes.o, attn.out, n, w.o, residual, stream);
    kernels::rms_norm(residual, nullptr, n, s.hidden_size, w.mlp_norm, eps, normed, stream);
    gemm.run(shapes.gate_up, normed, n, w.gate_up, b.gate_up.data(), stream);
    kernels::swiglu(b.gate_up.as<__nv_bfloat16>(), n, s.intermediate_size,
                    b.act.as<__nv_bfloat16>(), stream);
    gemm.run(shapes.down, b.act.as<__nv_bfloat16>(), n, w.down, residual, stream);
  }
  if (t.num_sampled == 0) return;
  kernels::rms_norm(residual, t.sampled_rows, t.num_sampled, s.hidden_size, weights.final_norm(),
                    eps, normed, stream);
  gemm.run(shapes.lm_head, normed, t.num_sampled, weights.lm_head(), b.logits.data(), stream);
  kernels::argmax_rows(b.logits.as<float>(), t.num_sampled, s.vocab_size, b.next.as<int32_t>(),
                       stream);
}

}  // namespace flowkv::runtime
