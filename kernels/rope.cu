#include "kernels/rope.h"

#include <cmath>
#include <numbers>
#include <string>

#include "core/base/error.h"
#include "kernels/cuda_check.h"

namespace flowkv::kernels {
namespace {

// One block per token, one thread per rotation pair i < head_dim/2: the thread computes its
// angle's sine and cosine once and applies them to every q and k head.
template <int kHeadDim>
__global__ void __launch_bounds__(kHeadDim / 2)
    QkvBiasRopeKernel(__nv_bfloat16* __restrict__ qkv, int32_t num_heads, int32_t num_kv_heads,
                      const __nv_bfloat16* __restrict__ bias, const int32_t* __restrict__ positions,
                      const double* __restrict__ inv_freq) {
  constexpr int kHalf = kHeadDim / 2;
  const int64_t t = blockIdx.x;
  const int i = threadIdx.x;
  const int64_t row_width = static_cast<int64_t>(num_heads + 2 * num_kv_heads) * kHeadDim;
  __nv_bfloat16* row = qkv + t * row_width;
  double s = 0.0;
  double c = 0.0;
  sincos(static_cast<double>(positions[t]) * inv_freq[i], &s, &c);
  const float sin_f = static_cast<float>(s);
  const float cos_f = static_cast<float>(c);
  const int rotated_heads = num_heads + num_kv_heads;
  for (int h = 0; h < rotated_heads; ++h) {
    const int64_t a = static_cast<int64_t>(h) * kHeadDim + i;
    const int64_t b = a + kHalf;
    float x1 = __bfloat162float(row[a]);
    float x2 = __bfloat162float(row[b]);
    if (bias) {
      x1 += __bfloat162float(bias[a]);
      x2 += __bfloat162float(bias[b]);
    }
    row[a] = __float2bfloat16_rn(x1 * cos_f - x2 * sin_f);
    row[b] = __float2bfloat16_rn(x2 * cos_f + x1 * sin_f);
  }
  if (bias) {
    for (int h = rotated_heads; h < rotated_heads + num_kv_heads; ++h) {
      for (int j = i; j < kHeadDim; j += kHalf) {
        const int64_t a = static_cast<int64_t>(h) * kHeadDim + j;
        row[a] = __float2bfloat16_rn(__bfloat162float(row[a]) + __bfloat162float(bias[a]));
      }
    }
  }
}

template <int kHeadDim>
void launch(__nv_bfloat16* qkv, int64_t num_tokens, int32_t num_heads, int32_t num_kv_heads,
            const __nv_bfloat16* bias, const int32_t* positions, const double* inv_freq,
            cudaStream_t stream) {
  QkvBiasRopeKernel<kHeadDim><<<static_cast<unsigned>(num_tokens), kHeadDim / 2, 0, stream>>>(
      qkv, num_heads, num_kv_heads, bias, positions, inv_freq);
  FLOWKV_CUDA_CHECK_LAUNCH();
}

}  // namespace

std::vector<double> rope_inv_freq(const core::ModelSpec& spec) {
  const int dim = spec.head_dim;
  if (dim <= 0 || dim % 2 != 0) {
    core::throw_input_error("rope: head_dim " + std::to_string(dim) + " is not a positive even number");
  }
  std::vector<double> inv(static_cast<size_t>(dim / 2));
  for (int i = 0; i < dim / 2; ++i) {
    inv[static_cast<size_t>(i)] = 1.0 / std::pow(spec.rope_theta, (2.0 * i) / dim);
  }
  const auto& rs = spec.rope_scaling;
  if (!rs.llama3) return inv;
  // Hugging Face transformers, modeling_rope_utils._compute_llama3_parameters.
  const double old_context = static_cast<double>(rs.original_max_position_embeddings);
  const double low_freq_wavelen = old_context / rs.low_freq_factor;
  const double high_freq_wavelen = old_context / rs.high_freq_factor;
  for (double& f : inv) {
    const double wavelen = 2.0 * std::numbers::pi / f;
    double scaled = wavelen > low_freq_wavelen ? f / rs.factor : f;
    const bool medium = !(wavelen < high_freq_wavelen) && !(wavelen > low_freq_wavelen);
    if (medium) {
      const double smooth = (old_context / wavelen - rs.low_freq_factor) /
                            (rs.high_freq_factor - rs.low_freq_factor);
      scaled = (1.0 - smooth) * scaled / rs.factor + smooth * scaled;
    }
    f = scaled;
  }
  return inv;
}

void qkv_bias_rope(__nv_bfloat16* qkv, int64_t num_tokens, int32_t num_heads, int32_t num_kv_heads,
                   int32_t head_dim, const __nv_bfloat16* bias, const int32_t* positions,
                   const double* inv_freq, cudaStream_t stream) {
  if (num_tokens <= 0) return;
  switch (head_dim) {
    case 32: return launch<32>(qkv, num_tokens, num_heads, num_kv_heads, bias, positions, inv_freq, stream);
    case 64: return launch<64>(qkv, num_tokens, num_heads, num_kv_heads, bias, positions, inv_freq, stream);
    case 128: return launch<128>(qkv, num_tokens, num_heads, num_kv_heads, bias, positions, inv_freq, stream);
    default:
      throw core::Error(core::ErrorKind::kUnsupported,
                        "qkv_bias_rope: head_dim " + std::to_string(head_dim) +
                            " is not supported (32, 64 or 128)");
  }
}

}  // namespace flowkv::kernels
