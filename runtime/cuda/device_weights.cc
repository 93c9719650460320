#include "runtime/cuda/device_weights.h"

#include <algorithm>
#include <functional>
#include <string>

#include "core/base/error.h"
#include "kernels/cuda_check.h"
#include "kernels/random_fill.h"
#include "runtime/model/random_weights.h"

namespace flowkv::runtime {
namespace {

constexpr int64_t kAlign = 256;  // bytes
constexpr int64_t kStagingFloats = int64_t{16} << 20;  // 64 MiB of float32 per upload step

int64_t aligned(int64_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

// One tensor of the model: where it goes and what fills it.
struct TensorSlot {
  WeightTensor kind;
  int32_t layer;  // -1 for model-level tensors
  int64_t count;  // elements
  const __nv_bfloat16** target;
};

int64_t qkv_rows(const core::ModelSpec& s) {
  return int64_t{s.num_heads + 2 * s.num_kv_heads} * s.head_dim;
}

}  // namespace

DeviceWeights::DeviceWeights(const core::ModelSpec& spec)
    : spec_(spec), layers_(static_cast<size_t>(spec.num_layers)) {}

// The tensors of a model in storage order, with their element counts.
static std::vector<TensorSlot> tensor_slots(const core::ModelSpec& s, bool tied,
                                            const __nv_bfloat16** embed,
                                            const __nv_bfloat16** final_norm,
                                            const __nv_bfloat16** lm_head,
                                            std::vector<DeviceLayerWeights>& layers) {
  const int64_t hidden = s.hidden_size;
  const int64_t q_dim = int64_t{s.num_heads} * s.head_dim;
  std::vector<TensorSlot> slots;
  slots.push_back({WeightTensor::kEmbed, -1, int64_t{s.vocab_size} * hidden, embed});
  for (int32_t l = 0; l < s.num_layers; ++l) {
    DeviceLayerWeights& w = layers[static_cast<size_t>(l)];
    slots.push_back({WeightTensor::kAttnNorm, l, hidden, &w.attn_norm});
    slots.push_back({WeightTensor::kQkv, l, qkv_rows(s) * hidden, &w.qkv});
    if (s.attention_bias) slots.push_back({WeightTensor::kQkvBias, l, qkv_rows(s), &w.qkv_bias});
    slots.push_back({WeightTensor::kO, l, hidden * q_dim, &w.o});
    slots.push_back({WeightTensor::kMlpNorm, l, hidden, &w.mlp_norm});
    slots.push_back({WeightTensor::kGateUp, l, 2 * int64_t{s.intermediate_size} * hidden, &w.gate_up});
    slots.push_back({WeightTensor::kDown, l, hidden * s.intermediate_size, &w.down});
  }
  slots.push_back({WeightTensor::kFinalNorm, -1, hidden, final_norm});
  if (!tied) slots.push_back({WeightTensor::kLmHead, -1, int64_t{s.vocab_size} * hidden, lm_head});
  return slots;
}

static void place(DeviceBuffer& storage, std::vector<TensorSlot>& slots) {
  int64_t total = 0;
  for (const TensorSlot& t : slots) total += aligned(t.count * 2);
  storage = DeviceBuffer(total);
  int64_t offset = 0;
  for (TensorSlot& t : slots) {
    *t.target = reinterpret_cast<const __nv_bfloat16*>(storage.data() + offset);
    offset += aligned(t.count * 2);
  }
}

DeviceWeights DeviceWeights::random(const core::ModelSpec& spec, uint64_t seed,
                                    cudaStream_t stream) {
  DeviceWeights w(spec);
  const bool tied = spec.tie_word_embeddings;
  auto slots = tensor_slots(spec, tied, &w.embed_, &w.final_norm_, &w.lm_head_, w.layers_);
  place(w.storage_, slots);
  const int64_t q_dim = int64_t{spec.num_heads} * spec.head_dim;
  for (const TensorSlot& t : slots) {
    const WeightInit init = weight_init(t.kind, spec.hidden_size, q_dim, spec.intermediate_size);
    kernels::fill_random_weights(const_cast<__nv_bfloat16*>(*t.target), t.count, seed,
                                 tensor_id(t.kind, std::max(t.layer, 0)), init.scale, init.offset,
                                 stream);
  }
  if (tied) w.lm_head_ = w.embed_;
  FLOWKV_CUDA_CHECK(cudaStreamSynchronize(stream));
  return w;
}

DeviceWeights DeviceWeights::upload(const ModelWeights& weights, cudaStream_t stream) {
  const core::ModelSpec& spec = weights.spec;
  DeviceWeights w(spec);
  // Tied embeddings share the device copy even though ModelWeights holds two host copies.
  const bool tied = spec.tie_word_embeddings;
  auto slots = tensor_slots(spec, tied, &w.embed_, &w.final_norm_, &w.lm_head_, w.layers_);
  place(w.storage_, slots);
  if (static_cast<int32_t>(weights.layers.size()) != spec.num_layers) {
    core::throw_input_error("model weights: " + std::to_string(weights.layers.size()) +
                            " layers, the spec says " + std::to_string(spec.num_layers));
  }
  auto host_tensor = [&](const TensorSlot& t) -> const std::vector<float>& {
    if (t.layer < 0) {
      switch (t.kind) {
        case WeightTensor::kEmbed: return weights.embed;
        case WeightTensor::kFinalNorm: return weights.final_norm;
        default: return weights.lm_head;
      }
    }
    const LayerWeights& l = weights.layers[static_cast<size_t>(t.layer)];
    switch (t.kind) {
      case WeightTensor::kAttnNorm: return l.attn_norm;
      case WeightTensor::kQkv: return l.qkv;
      case WeightTensor::kQkvBias: return l.qkv_bias;
      case WeightTensor::kO: return l.o;
      case WeightTensor::kMlpNorm: return l.mlp_norm;
      case WeightTensor::kGateUp: return l.gate_up;
      default: return l.down;
    }
  };
  DeviceBuffer staging(std::min<int64_t>(kStagingFloats, int64_t{spec.vocab_size} * spec.hidden_size) * 4);
  const int64_t staging_floats = staging.bytes() / 4;
  for (const TensorSlot& t : slots) {
    const std::vector<float>& host = host_tensor(t);
    if (static_cast<int64_t>(host.size()) != t.count) {
      core::throw_input_error("model weights: tensor " + std::to_string(static_cast<uint32_t>(t.kind)) +
                              " of layer " + std::to_string(t.layer) + " has " +
                              std::to_string(host.size()) + " elements, the spec needs " +
                              std::to_string(t.count));
    }
    for (int64_t done = 0; done < t.count; done += staging_floats) {
      const int64_t n = std::min(staging_floats, t.count - done);
      // On the conversion's stream (a plain cudaMemcpy from pageable memory may return before
      // its DMA lands, and `stream` does not wait for the legacy stream); the synchronisation
      // frees the staging buffer for the next piece.
      FLOWKV_CUDA_CHECK(cudaMemcpyAsync(staging.data(), host.data() + done,
                                        static_cast<size_t>(n) * 4, cudaMemcpyHostToDevice, stream));
      kernels::convert_f32_to_bf16(staging.as<float>(), n,
                                   const_cast<__nv_bfloat16*>(*t.target) + done, stream);
      FLOWKV_CUDA_CHECK(cudaStreamSynchronize(stream));
    }
  }
  if (tied) w.lm_head_ = w.embed_;
  return w;
}

}  // namespace flowkv::runtime
