// The CUDA executor's forward pass: enqueues one iteration of a Llama-architecture model on a
// stream, from device tables (runtime/cuda/iteration_plan.h) to the greedy next token of each
// sampled row.
//
//   residual = embed(tokens)                                   f32 [n][hidden]
//   per layer: x = rms_norm(residual)                          bf16
//              qkv = x Wqkv^T; + bias; RoPE on q, k            bf16 (kernels/rope.h)
//              K, V -> pool at (layer, block, slot)             kernels/kv_write.h
//              a = attention(q, pool)                          bf16 (kernels/attention.h)
//              residual += a Wo^T                              cuBLASLt, accumulate into f32
//              x = rms_norm(residual); h = x Wgu^T; s = silu(g) u; residual += s Wdown^T
//   sampled rows: logits = rms_norm(residual[rows]) Wlm^T      f32 [ns][vocab]; next = argmax
//
// The residual stream stays float32 (the CPU executor's precision) and the o/down GEMMs add into
// it; activations between kernels are bf16, rounded once per kernel. Only enqueues work.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "core/kv/kv_layout.h"
#include "core/spec/model_spec.h"
#include "kernels/attention.h"
#include "kernels/gemm.h"
#include "runtime/cuda/cuda_handles.h"
#include "runtime/cuda/device_weights.h"

namespace flowkv::runtime {

// The five GEMM shapes of a model (what CudaDevice chooses algorithms for).
struct ModelGemmShapes {
  kernels::GemmShape qkv, o, gate_up, down, lm_head;
};
ModelGemmShapes model_gemm_shapes(const core::ModelSpec& spec);

// Device pointers into the uploaded tables of one iteration.
struct ForwardTables {
  const int32_t* token_ids = nullptr;        // [num_tokens]
  const int32_t* positions = nullptr;        // [num_tokens]
  const int64_t* token_blocks = nullptr;     // [num_tokens]
  const int64_t* block_ids = nullptr;        // [*]
  const kernels::AttentionItem* items = nullptr;
  const kernels::AttentionWork* prefill = nullptr;
  const kernels::AttentionWork* decode = nullptr;
  const kernels::CombineWork* combine = nullptr;
  const int32_t* sampled_rows = nullptr;     // [num_sampled]
  int64_t num_tokens = 0;
  int64_t num_sampled = 0;
  int32_t num_prefill = 0, num_decode = 0, num_combine = 0, num_slots = 0;
};

// Activation scratch, grow-only (reallocation waits for the device: the executor grows it only
// between iterations).
class ForwardBuffers {
 public:
  void reserve(const core::ModelSpec& spec, int64_t num_tokens, int64_t num_sampled,
               int64_t num_slots);
  // Bytes reserve() takes for these sizes (for the device's free_bytes()).
  static int64_t bytes_for(const core::ModelSpec& spec, int64_t num_tokens, int64_t num_sampled,
                           int64_t num_slots);

  DeviceBuffer residual;     // [n][hidden] f32
  DeviceBuffer normed;       // [n][hidden] bf16
  DeviceBuffer qkv;          // [n][(H + 2 KVH) head_dim] bf16
  DeviceBuffer attn;         // [n][H head_dim] bf16
  DeviceBuffer gate_up;      // [n][2 intermediate] bf16
  DeviceBuffer act;          // [n][intermediate] bf16
  DeviceBuffer logits;       // [ns][vocab] f32
  DeviceBuffer next;         // [ns] int32
  DeviceBuffer partial_out;  // [slots][H][head_dim] f32
  DeviceBuffer partial_ml;   // [slots][H] float2
};

void enqueue_forward(const DeviceWeights& weights, const ModelGemmShapes& shapes,
                     const double* inv_freq,   // [head_dim / 2] device
                     const ForwardTables& tables, const core::KvLayout& layout,
                     std::byte* pool, ForwardBuffers& buffers, kernels::GemmRunner& gemm,
                     cudaStream_t stream);

}  // namespace flowkv::runtime
