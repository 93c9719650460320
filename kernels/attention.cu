#include "kernels/attention.h"

#include <cmath>
#include <string>

#include "core/base/error.h"
#include "kernels/attention_tile.cuh"
#include "kernels/cuda_check.h"

namespace flowkv::kernels {
namespace {

using detail::MergeCoeffs;

constexpr uint32_t kFullMask = 0xffffffffu;
constexpr int kTile = kAttentionKeyTile;
static_assert(kAttentionSplitKeys % kAttentionKeyTile == 0, "a split is whole tiles");
static_assert(kAttentionPrefillRows == 4 * 16, "prefill blocks are 4 warps of 16 rows");
static_assert(kAttentionDecodeMaxGroup == 16, "decode blocks are one warp of 16 rows");

template <int kWarps>
__device__ __forceinline__ void block_sync() {
  if constexpr (kWarps == 1) {
    __syncwarp();
  } else {
    __syncthreads();
  }
}

// Shared memory: a K tile and a V tile, [kTile][head_dim] bf16 with rows padded by 16 bytes (so
// the 8 rows an ldmatrix reads fall in different banks); prefill adds each warp's running output
// total, [kWarps][head_dim / 2][32 lanes] f32 (lane-major: conflict-free, private to the lane).
template <int kHeadDim>
constexpr int kRowBytes = kHeadDim * 2 + 16;
template <int kHeadDim>
constexpr int kTileBytes = kTile * kRowBytes<kHeadDim>;

template <int kHeadDim, int kWarps, bool kSingleSplit>
constexpr size_t smem_bytes() {
  return 2 * static_cast<size_t>(kTileBytes<kHeadDim>) +
         (kSingleSplit ? 0 : static_cast<size_t>(kWarps) * (kHeadDim / 2) * 32 * sizeof(float));
}

// kSingleSplit = false: prefill (all splits, writes `out`); true: decode (work.split only,
// writes a partial slot). The per-row arithmetic is the same code in both.
template <int kHeadDim, int kWarps, bool kSingleSplit>
__global__ void __launch_bounds__(kWarps * 32)
    AttentionKernel(AttentionArgs args, float scale_log2) {
  constexpr int kThreads = kWarps * 32;
  constexpr int kRows = kWarps * 16;
  constexpr int kKeyFrags = kTile / 8;     // n-tiles of S = Q K^T
  constexpr int kKeySteps = kTile / 16;    // k-steps of P V
  constexpr int kDimFrags = kHeadDim / 8;  // n-tiles of O
  constexpr int kDimSteps = kHeadDim / 16; // k-steps of Q K^T
  constexpr int kChunks = kHeadDim / 8;    // 16-byte chunks of a key row
  constexpr int kRowB = kRowBytes<kHeadDim>;

  extern __shared__ __align__(16) unsigned char smem[];
  unsigned char* const k_tile = smem;
  unsigned char* const v_tile = smem + kTileBytes<kHeadDim>;

  const AttentionWork work = kSingleSplit ? args.decode[blockIdx.x] : args.prefill[blockIdx.x];
  const AttentionItem item = args.items[work.item];
  const core::KvGeometry& geo = args.layout.geometry;
  const int kv_head = blockIdx.y;
  const int num_kv_heads = geo.num_kv_heads;
  const int group = args.num_heads / num_kv_heads;
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  const int quad_row = lane / 4;
  const int quad_col = lane % 4;

  const int rows = item.num_tokens * group;
  const int row0 = work.row_block * kRows;
  const int last_row = min(rows, row0 + kRows) - 1;
  const int kv_last = item.context + last_row / group;  // last key any row of the block needs
  const bool warp_active = row0 + warp * 16 < rows;

  // This lane's rows: quad_row and quad_row + 8 of its warp's 16.
  int row_pos[2];
  int row_head[2];
  int64_t row_token[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int r = row0 + warp * 16 + quad_row + 8 * h;
    if (r < rows) {
      row_token[h] = item.token_offset + r / group;
      row_head[h] = kv_head * group + r % group;
      row_pos[h] = item.context + r / group;
    } else {
      row_token[h] = -1;
      row_head[h] = 0;
      row_pos[h] = -1;  // masks every key
    }
  }
  uint32_t q_frag[kDimSteps][4];
#pragma unroll
  for (int ks = 0; ks < kDimSteps; ++ks) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int h = i % 2;
      const int col = ks * 16 + (i / 2) * 8 + 2 * quad_col;
      q_frag[ks][i] = row_token[h] >= 0
                          ? detail::load_u32(args.q + row_token[h] * args.q_stride +
                                             row_head[h] * kHeadDim + col)
                          : 0u;
    }
  }

  // Keys [first_key, first_key + kTile) of K (kv = 0) or V (kv = 1) into a tile; keys past
  // kv_last are zero-filled without being read.
  const unsigned char* pool = reinterpret_cast<const unsigned char*>(args.pool);
  auto load_tile = [&](unsigned char* dst, int kv, int first_key) {
#pragma unroll
    for (int i = threadIdx.x; i < kTile * kChunks; i += kThreads) {
      const int row = i / kChunks;
      const int chunk = i % kChunks;
      const int key = first_key + row;
      const unsigned char* src = pool;
      int bytes = 0;
      if (key <= kv_last) {
        const int64_t block = args.block_ids[item.block_offset + key / geo.block_size];
        const int64_t slot = key % geo.block_size;
        src = pool + args.layout.chunk_offset(args.layer, kv, block) +
              ((slot * num_kv_heads + kv_head) * kHeadDim + chunk * 8) * 2;
        bytes = 16;
      }
      detail::cp_async_16(detail::smem_addr(dst + row * kRowB + chunk * 16), src, bytes);
    }
  };

  float run_max[2] = {-INFINITY, -INFINITY};  // this split's state
  float run_sum[2] = {0.0f, 0.0f};            // this lane's share of the row sums
  float acc[kDimFrags][4];
#pragma unroll
  for (int d = 0; d < kDimFrags; ++d) acc[d][0] = acc[d][1] = acc[d][2] = acc[d][3] = 0.0f;
  float total_max[2] = {-INFINITY, -INFINITY};  // prefill: splits merged so far
  float total_sum[2] = {0.0f, 0.0f};
  // Element e of this lane's running output total at total[e * 32] (prefill only).
  float* const total = reinterpret_cast<float*>(smem + 2 * kTileBytes<kHeadDim>) +
                       warp * (kDimFrags * 4 * 32) + lane;
  if constexpr (!kSingleSplit) {
#pragma unroll
    for (int e = 0; e < kDimFrags * 4; ++e) total[e * 32] = 0.0f;
  }

  const int key_begin = kSingleSplit ? work.split * kAttentionSplitKeys : 0;
  const int key_end =
      kSingleSplit ? min((work.split + 1) * kAttentionSplitKeys, kv_last + 1) : kv_last + 1;
  const int num_tiles = (key_end - key_begin + kTile - 1) / kTile;

  load_tile(k_tile, 0, key_begin);
  detail::cp_async_commit();
  load_tile(v_tile, 1, key_begin);
  detail::cp_async_commit();
  for (int ti = 0; ti < num_tiles; ++ti) {
    const int first_key = key_begin + ti * kTile;
    const bool has_next = ti + 1 < num_tiles;
    detail::cp_async_wait<1>();  // this tile's K has landed
    block_sync<kWarps>();

    float s[kKeyFrags][4];
#pragma unroll
    for (int j = 0; j < kKeyFrags; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.0f;
    if (warp_active) {
#pragma unroll
      for (int ks = 0; ks < kDimSteps; ++ks) {
#pragma unroll
        for (int p = 0; p < kTile / 16; ++p) {
          const int m = lane / 8;
          const int key = p * 16 + (m / 2) * 8 + lane % 8;
          const int dim = ks * 16 + (m % 2) * 8;
          uint32_t b[4];
          detail::ldmatrix_x4(detail::smem_addr(k_tile + key * kRowB + dim * 2), b);
          detail::mma_bf16_16816(s[2 * p], q_frag[ks], b[0], b[1]);
          detail::mma_bf16_16816(s[2 * p + 1], q_frag[ks], b[2], b[3]);
        }
      }
    }
    block_sync<kWarps>();  // K tile free
    if (has_next) {
      load_tile(k_tile, 0, first_key + kTile);
      detail::cp_async_commit();
    }

    uint32_t p_frag[kKeySteps][4];
    if (warp_active) {
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        float tile_max = -INFINITY;
#pragma unroll
        for (int j = 0; j < kKeyFrags; ++j) {
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const int key = first_key + j * 8 + 2 * quad_col + e;
            if (key > row_pos[h]) s[j][2 * h + e] = -INFINITY;
            tile_max = fmaxf(tile_max, s[j][2 * h + e]);
          }
        }
        tile_max = fmaxf(tile_max, __shfl_xor_sync(kFullMask, tile_max, 1));
        tile_max = fmaxf(tile_max, __shfl_xor_sync(kFullMask, tile_max, 2));
        const float new_max = fmaxf(run_max[h], tile_max);
        const float base = new_max == -INFINITY ? 0.0f : new_max;  // a row with no key yet
        const float keep = exp2f(__fmul_rn(__fsub_rn(run_max[h], base), scale_log2));
        float tile_sum = 0.0f;
#pragma unroll
        for (int j = 0; j < kKeyFrags; ++j) {
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const float p = exp2f(__fmul_rn(__fsub_rn(s[j][2 * h + e], base), scale_log2));
            s[j][2 * h + e] = p;
            tile_sum = __fadd_rn(tile_sum, p);
          }
        }
        run_sum[h] = __fadd_rn(__fmul_rn(run_sum[h], keep), tile_sum);
        run_max[h] = new_max;
#pragma unroll
        for (int d = 0; d < kDimFrags; ++d) {
          acc[d][2 * h] = __fmul_rn(acc[d][2 * h], keep);
          acc[d][2 * h + 1] = __fmul_rn(acc[d][2 * h + 1], keep);
        }
      }
#pragma unroll
      for (int kk = 0; kk < kKeySteps; ++kk) {
        p_frag[kk][0] = detail::pack_bf16x2(s[2 * kk][0], s[2 * kk][1]);
        p_frag[kk][1] = detail::pack_bf16x2(s[2 * kk][2], s[2 * kk][3]);
        p_frag[kk][2] = detail::pack_bf16x2(s[2 * kk + 1][0], s[2 * kk + 1][1]);
        p_frag[kk][3] = detail::pack_bf16x2(s[2 * kk + 1][2], s[2 * kk + 1][3]);
      }
    }

    if (has_next) {
      detail::cp_async_wait<1>();  // this tile's V has landed (the next K may be in flight)
    } else {
      detail::cp_async_wait<0>();
    }
    block_sync<kWarps>();
    if (warp_active) {
#pragma unroll
      for (int kk = 0; kk < kKeySteps; ++kk) {
#pragma unroll
        for (int c = 0; c < kHeadDim / 16; ++c) {
          const int m = lane / 8;
          const int key = kk * 16 + (m % 2) * 8 + lane % 8;
          const int dim = c * 16 + (m / 2) * 8;
          uint32_t b[4];
          detail::ldmatrix_x4_trans(detail::smem_addr(v_tile + key * kRowB + dim * 2), b);
          detail::mma_bf16_16816(acc[2 * c], p_frag[kk], b[0], b[1]);
          detail::mma_bf16_16816(acc[2 * c + 1], p_frag[kk], b[2], b[3]);
        }
      }
    }
    block_sync<kWarps>();  // V tile free
    if (has_next) {
      load_tile(v_tile, 1, first_key + kTile);
      detail::cp_async_commit();
    }

    const bool split_end = !has_next || (first_key + kTile) % kAttentionSplitKeys == 0;
    if (split_end && warp_active) {
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        float sum = run_sum[h];
        sum = __fadd_rn(sum, __shfl_xor_sync(kFullMask, sum, 1));
        sum = __fadd_rn(sum, __shfl_xor_sync(kFullMask, sum, 2));
        if constexpr (kSingleSplit) {
          if (row_pos[h] >= 0) {
            const int64_t slot_row = static_cast<int64_t>(work.slot) * args.num_heads + row_head[h];
            float* dst = args.partial_out + slot_row * kHeadDim + 2 * quad_col;
#pragma unroll
            for (int d = 0; d < kDimFrags; ++d) {
              *reinterpret_cast<float2*>(dst + d * 8) = make_float2(acc[d][2 * h], acc[d][2 * h + 1]);
            }
            if (quad_col == 0) args.partial_ml[slot_row] = make_float2(run_max[h], sum);
          }
        } else {
          // A split with no key at or before the row's position is not merged: the decode path
          // never makes it.
          if (row_pos[h] >= 0 && run_max[h] != -INFINITY) {
            const MergeCoeffs c = detail::merge_coeffs(total_max[h], run_max[h], scale_log2);
            total_sum[h] = detail::merge_value(total_sum[h], sum, c);
            total_max[h] = c.max;
#pragma unroll
            for (int d = 0; d < kDimFrags; ++d) {
#pragma unroll
              for (int e = 0; e < 2; ++e) {
                float& t = total[(d * 4 + 2 * h + e) * 32];
                t = detail::merge_value(t, acc[d][2 * h + e], c);
              }
            }
          }
        }
        run_max[h] = -INFINITY;
        run_sum[h] = 0.0f;
      }
#pragma unroll
      for (int d = 0; d < kDimFrags; ++d) acc[d][0] = acc[d][1] = acc[d][2] = acc[d][3] = 0.0f;
    }
  }

  if constexpr (!kSingleSplit) {
    if (!warp_active) return;
    const int64_t out_stride = static_cast<int64_t>(args.num_heads) * kHeadDim;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      if (row_pos[h] < 0) continue;
      __nv_bfloat16* dst = args.out + row_token[h] * out_stride + row_head[h] * kHeadDim + 2 * quad_col;
#pragma unroll
      for (int d = 0; d < kDimFrags; ++d) {
        const float a = __fdiv_rn(total[(d * 4 + 2 * h) * 32], total_sum[h]);
        const float b = __fdiv_rn(total[(d * 4 + 2 * h + 1) * 32], total_sum[h]);
        *reinterpret_cast<__nv_bfloat162*>(dst + d * 8) = __floats2bfloat162_rn(a, b);
      }
    }
  }
}

// One block per (decode item, q head), one thread per dimension: merges the item's splits in
// order with the prefill kernel's operations, then normalises.
template <int kHeadDim>
__global__ void __launch_bounds__(kHeadDim) AttentionCombineKernel(AttentionArgs args, float scale_log2) {
  const CombineWork w = args.combine[blockIdx.x];
  const AttentionItem item = args.items[w.item];
  const int head = blockIdx.y;
  const int d = threadIdx.x;
  float total_max = -INFINITY;
  float total_sum = 0.0f;
  float total = 0.0f;
  for (int s = 0; s < w.num_splits; ++s) {
    const int64_t slot_row = static_cast<int64_t>(w.slot_base + s) * args.num_heads + head;
    const float2 ml = args.partial_ml[slot_row];
    const MergeCoeffs c = detail::merge_coeffs(total_max, ml.x, scale_log2);
    total_sum = detail::merge_value(total_sum, ml.y, c);
    total = detail::merge_value(total, args.partial_out[slot_row * kHeadDim + d], c);
    total_max = c.max;
  }
  args.out[static_cast<int64_t>(item.token_offset) * args.num_heads * kHeadDim + head * kHeadDim + d] =
      __float2bfloat16_rn(__fdiv_rn(total, total_sum));
}

template <typename Kernel>
void allow_smem(Kernel kernel, size_t bytes) {
  if (bytes > 48 * 1024) {
    FLOWKV_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           static_cast<int>(bytes)));
  }
}

template <int kHeadDim>
void launch(const AttentionArgs& args, cudaStream_t stream) {
  const float scale_log2 =
      static_cast<float>(1.4426950408889634 / std::sqrt(static_cast<double>(kHeadDim)));
  const unsigned kv_heads = static_cast<unsigned>(args.layout.geometry.num_kv_heads);
  if (args.num_prefill > 0) {
    const auto kernel = AttentionKernel<kHeadDim, 4, false>;
    constexpr size_t bytes = smem_bytes<kHeadDim, 4, false>();
    allow_smem(kernel, bytes);
    kernel<<<dim3(static_cast<unsigned>(args.num_prefill), kv_heads), 4 * 32, bytes, stream>>>(
        args, scale_log2);
    FLOWKV_CUDA_CHECK_LAUNCH();
  }
  if (args.num_decode > 0) {
    const auto kernel = AttentionKernel<kHeadDim, 1, true>;
    constexpr size_t bytes = smem_bytes<kHeadDim, 1, true>();
    allow_smem(kernel, bytes);
    kernel<<<dim3(static_cast<unsigned>(args.num_decode), kv_heads), 32, bytes, stream>>>(
        args, scale_log2);
    FLOWKV_CUDA_CHECK_LAUNCH();
    AttentionCombineKernel<kHeadDim>
        <<<dim3(static_cast<unsigned>(args.num_combine), static_cast<unsigned>(args.num_heads)),
           kHeadDim, 0, stream>>>(args, scale_log2);
    FLOWKV_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace

void attention(const AttentionArgs& args, cudaStream_t stream) {
  const core::KvGeometry& g = args.layout.geometry;
  if (g.dtype_bytes != 2) {
    throw core::Error(core::ErrorKind::kUnsupported,
                      "attention: needs a bf16 pool, got dtype_bytes " + std::to_string(g.dtype_bytes));
  }
  if (g.num_kv_heads <= 0 || args.num_heads % g.num_kv_heads != 0 || args.q_stride % 2 != 0) {
    core::throw_input_error("attention: " + std::to_string(args.num_heads) + " q heads over " +
                            std::to_string(g.num_kv_heads) + " kv heads, q stride " +
                            std::to_string(args.q_stride) + " (must be even)");
  }
  if (args.layer < 0 || args.layer >= g.num_layers) {
    core::throw_input_error("attention: layer " + std::to_string(args.layer) + " outside the pool's " +
                            std::to_string(g.num_layers) + " layers");
  }
  if (args.num_decode > 0 && args.num_heads / g.num_kv_heads > kAttentionDecodeMaxGroup) {
    core::throw_input_error("attention: decode work for a group of more than 16 q heads");
  }
  switch (g.head_dim) {
    case 32: return launch<32>(args, stream);
    case 64: return launch<64>(args, stream);
    case 128: return launch<128>(args, stream);
    default:
      throw core::Error(core::ErrorKind::kUnsupported,
                        "attention: head_dim " + std::to_string(g.head_dim) +
                            " is not supported (32, 64 or 128)");
  }
}

}  // namespace flowkv::kernels
