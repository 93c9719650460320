// Random weights as a pure function of (seed, tensor, element index), so the CPU and CUDA
// executors build the same model independently (the GPU fills its copy with a kernel, no 16 GB
// host upload for an 8B model) and a test can compare their logits.
//
// Every value is representable in bf16 (rounded to nearest even), so a bf16 copy of the weights
// equals the float32 one. Scales keep activations near unit RMS through the layers and make the
// logits spread (std ~2) so that greedy ties are rare:
//   embedding      U(-1, 1)
//   norms          1 + 0.05 U(-1, 1)
//   a projection   U(-1, 1) / sqrt(fan_in)    (qkv, o, gate/up, down)
//   q/k/v bias     0.1 U(-1, 1)
//   LM head        4 U(-1, 1) / sqrt(hidden)
// Host and device (FLOWKV_HOST_DEVICE); no state.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/base/host_device.h"

namespace flowkv::runtime {

// Which tensor: the id mixed into the hash. Per-layer tensors add kLayerStride * layer.
enum class WeightTensor : uint32_t {
  kEmbed = 1,
  kFinalNorm = 2,
  kLmHead = 3,
  kAttnNorm = 16,   // [hidden]
  kQkv = 17,        // [(num_heads + 2 num_kv_heads) head_dim][hidden]: q rows, then k, then v
  kQkvBias = 18,    // [(num_heads + 2 num_kv_heads) head_dim]
  kO = 19,          // [hidden][num_heads head_dim]
  kMlpNorm = 20,    // [hidden]
  kGateUp = 21,     // [2 intermediate][hidden]: gate rows, then up rows
  kDown = 22,       // [hidden][intermediate]
};
inline constexpr uint32_t kLayerStride = 16;

FLOWKV_HOST_DEVICE constexpr uint32_t tensor_id(WeightTensor t, int32_t layer = 0) {
  return static_cast<uint32_t>(t) + kLayerStride * static_cast<uint32_t>(layer);
}

FLOWKV_HOST_DEVICE constexpr uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Uniform in [-1, 1), 24 bits of the hash.
FLOWKV_HOST_DEVICE inline float random_unit(uint64_t seed, uint32_t tensor, uint64_t index) {
  const uint64_t h = splitmix64(splitmix64(seed ^ (uint64_t{tensor} << 40)) + index);
  return static_cast<float>(h >> 40) * (2.0f / 16777216.0f) - 1.0f;
}

// float -> nearest-even bf16, returned as the float it represents (finite inputs only).
FLOWKV_HOST_DEVICE inline float round_to_bf16(float v) {
  uint32_t bits;
  memcpy(&bits, &v, 4);
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  bits &= 0xFFFF0000u;
  float out;
  memcpy(&out, &bits, 4);
  return out;
}

// Element `index` of tensor `tensor`: round_to_bf16(offset + scale * U(-1, 1)).
FLOWKV_HOST_DEVICE inline float random_weight(uint64_t seed, uint32_t tensor, uint64_t index,
                                              float scale, float offset = 0.0f) {
  return round_to_bf16(offset + scale * random_unit(seed, tensor, index));
}

// The (scale, offset) of each tensor kind for a model, as the header comment says.
struct WeightInit {
  float scale = 1.0f;
  float offset = 0.0f;
};
inline WeightInit weight_init(WeightTensor t, int64_t hidden, int64_t q_dim, int64_t intermediate) {
  switch (t) {
    case WeightTensor::kEmbed: return {1.0f, 0.0f};
    case WeightTensor::kFinalNorm:
    case WeightTensor::kAttnNorm:
    case WeightTensor::kMlpNorm: return {0.05f, 1.0f};
    case WeightTensor::kLmHead: return {4.0f / std::sqrt(static_cast<float>(hidden)), 0.0f};
    case WeightTensor::kQkv:
    case WeightTensor::kGateUp: return {1.0f / std::sqrt(static_cast<float>(hidden)), 0.0f};
    case WeightTensor::kQkvBias: return {0.1f, 0.0f};
    case WeightTensor::kO: return {1.0f / std::sqrt(static_cast<float>(q_dim)), 0.0f};
    case WeightTensor::kDown: return {1.0f / std::sqrt(static_cast<float>(intermediate)), 0.0f};
  }
  return {};
}

}  // namespace flowkv::runtime
