#include "kernels/kv_write.h"

#include <string>

#include "core/base/error.h"
#include "kernels/cuda_check.h"

namespace flowkv::kernels {
namespace {

constexpr int kThreads = 128;

// One block per token; 16-byte pieces, K then V, heads in order.
__global__ void __launch_bounds__(kThreads)
    KvWriteKernel(const __nv_bfloat16* __restrict__ qkv, int32_t num_heads,
                  const int32_t* __restrict__ positions, const int64_t* __restrict__ token_blocks,
                  core::KvLayout layout, int32_t layer, std::byte* __restrict__ pool) {
  const core::KvGeometry& g = layout.geometry;
  const int64_t t = blockIdx.x;
  const int32_t kv_width = g.num_kv_heads * g.head_dim;  // elements of K (or V) per token
  const int64_t row_width = static_cast<int64_t>(num_heads) * g.head_dim + 2 * kv_width;
  const __nv_bfloat16* src_row = qkv + t * row_width + static_cast<int64_t>(num_heads) * g.head_dim;
  const int64_t block = token_blocks[t];
  const int64_t slot = positions[t] % g.block_size;
  const int pieces = kv_width / 8;
  for (int p = threadIdx.x; p < 2 * pieces; p += kThreads) {
    const int kv = p / pieces;
    const int e = (p - kv * pieces) * 8;  // element within the token's K (or V): head * D + d
    std::byte* dst = pool + layout.chunk_offset(layer, kv, block) +
                     (slot * kv_width + e) * static_cast<int64_t>(sizeof(__nv_bfloat16));
    *reinterpret_cast<uint4*>(dst) =
        *reinterpret_cast<const uint4*>(src_row + static_cast<int64_t>(kv) * kv_width + e);
  }
}

}  // namespace

void write_kv(const __nv_bfloat16* qkv, int64_t num_tokens, int32_t num_heads,
              const int32_t* positions, const int64_t* token_blocks, const core::KvLayout& layout,
              int32_t layer, std::byte* pool, cudaStream_t stream) {
  const core::KvGeometry& g = layout.geometry;
  if (g.dtype_bytes != 2 || g.head_dim % 8 != 0) {
    throw core::Error(core::ErrorKind::kUnsupported,
                      "write_kv: needs a bf16 pool (dtype_bytes " + std::to_string(g.dtype_bytes) +
                          ") and head_dim a multiple of 8 (" + std::to_string(g.head_dim) + ")");
  }
  if (layer < 0 || layer >= g.num_layers) {
    core::throw_input_error("write_kv: layer " + std::to_string(layer) + " outside the pool's " +
                            std::to_string(g.num_layers) + " layers");
  }
  if (num_tokens <= 0) return;
  KvWriteKernel<<<static_cast<unsigned>(num_tokens), kThreads, 0, stream>>>(
      qkv, num_heads, positions, token_blocks, layout, layer, pool);
  FLOWKV_CUDA_CHECK_LAUNCH();
}

}  // namespace flowkv::kernels
