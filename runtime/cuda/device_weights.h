// DeviceWeights: a Llama-architecture model's weights in one device allocation, bf16, in the
// layout of runtime::ModelWeights (fused QKV and gate-up, row-major [out][in]).
//
// Made either from the seed, filled in place by kernels::fill_random_weights with the pure
// function of runtime/model/random_weights.h (no host copy: an 8B model costs 16 GB of device
// memory and no host memory), or by uploading a loaded ModelWeights (float32 -> bf16, rounded to
// nearest even, through a device staging buffer). Every tensor starts on a 256-byte boundary
// (cuBLASLt's alignment). Tied embeddings: lm_head points at the embedding.
//
// Immutable once made; shared read-only by the device's node executors. Construction throws
// core::Error: kInvalidInput for a ModelWeights whose tensors do not match its spec, kRuntime for
// a CUDA failure (out of memory included). Belongs to the device current at construction.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "core/spec/model_spec.h"
#include "runtime/cuda/cuda_handles.h"
#include "runtime/model/model_weights.h"

namespace flowkv::runtime {

struct DeviceLayerWeights {
  const __nv_bfloat16* attn_norm = nullptr;  // [hidden]
  const __nv_bfloat16* qkv = nullptr;        // [(H + 2 KVH) head_dim][hidden]
  const __nv_bfloat16* qkv_bias = nullptr;   // [(H + 2 KVH) head_dim] or null
  const __nv_bfloat16* o = nullptr;          // [hidden][H head_dim]
  const __nv_bfloat16* mlp_norm = nullptr;   // [hidden]
  const __nv_bfloat16* gate_up = nullptr;    // [2 intermediate][hidden]
  const __nv_bfloat16* down = nullptr;       // [hidden][intermediate]
};

class DeviceWeights {
 public:
  static DeviceWeights random(const core::ModelSpec& spec, uint64_t seed, cudaStream_t stream);
  static DeviceWeights upload(const ModelWeights& weights, cudaStream_t stream);

  const core::ModelSpec& spec() const { return spec_; }
  const __nv_bfloat16* embed() const { return embed_; }        // [vocab][hidden]
  const __nv_bfloat16* final_norm() const { return final_norm_; }  // [hidden]
  const __nv_bfloat16* lm_head() const { return lm_head_; }    // [vocab][hidden]
  const DeviceLayerWeights& layer(int32_t l) const { return layers_[static_cast<size_t>(l)]; }
  int64_t bytes() const { return storage_.bytes(); }

 private:
  explicit DeviceWeights(const core::ModelSpec& spec);

  core::ModelSpec spec_;
  DeviceBuffer storage_;
  const __nv_bfloat16* embed_ = nullptr;
  const __nv_bfloat16* final_norm_ = nullptr;
  const __nv_bfloat16* lm_head_ = nullptr;
  std::vector<DeviceLayerWeights> layers_;
};

}  // namespace flowkv::runtime
