// Building blocks of the attention kernels (kernels/attention.cu): asynchronous copies, ldmatrix,
// the bf16 m16n8k16 tensor-core MMA, and the softmax-state merge that the prefill and decode
// paths must compute with the very same float operations.
//
// Fragment layouts (PTX ISA, mma.m16n8k16 with .bf16): lane l, g = l / 4, t = l % 4.
//   A (16x16, row-major): a0 = A[g][2t..2t+1], a1 = A[g+8][2t..], a2 = A[g][2t+8..], a3 = A[g+8][2t+8..]
//   B (16x8, "col"):      b0 = B[2t..2t+1][g], b1 = B[2t+8..2t+9][g]
//   C/D (16x8, f32):      c0, c1 = C[g][2t..2t+1], c2, c3 = C[g+8][2t..2t+1]
#pragma once

#include <cuda_bf16.h>

#include <cstdint>
#include <cstring>

namespace flowkv::kernels::detail {

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes global -> shared, asynchronous. src_bytes = 0 writes 16 zero bytes and reads nothing
// (src must still be a valid global address).
__device__ __forceinline__ void cp_async_16(uint32_t dst, const void* src, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(src_bytes)
               : "memory");
}

__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}

// Waits until at most kPending of this thread's committed groups are still in flight.
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t addr, uint32_t (&r)[4]) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr)
               : "memory");
}

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t addr, uint32_t (&r)[4]) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr)
               : "memory");
}

// d += A * B (16x16 bf16 times 16x8 bf16, f32 accumulate).
__device__ __forceinline__ void mma_bf16_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                               uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, "
      "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats as bf16 (round to nearest even), `lo` in the low half: an A-fragment register.
__device__ __forceinline__ uint32_t pack_bf16x2(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  uint32_t r;
  memcpy(&r, &v, sizeof(r));
  return r;
}

__device__ __forceinline__ uint32_t load_u32(const __nv_bfloat16* p) {
  return *reinterpret_cast<const uint32_t*>(p);
}

// Merging a split's softmax state (max m_s, sum l_s, unnormalised output o_s) into a running
// total (m, l, o): m' = max(m, m_s), l' = l e^(m - m') + l_s e^(m_s - m'), o' likewise. Scores
// are raw q.k; scale_log2 = log2(e) / sqrt(head_dim). Every operation is an explicitly rounded
// intrinsic, so no FMA contraction can make the prefill kernel and the combine kernel differ.
struct MergeCoeffs {
  float max;
  float keep;  // factor of the running total
  float add;   // factor of the split's part
};

__device__ __forceinline__ MergeCoeffs merge_coeffs(float total_max, float part_max,
                                                    float scale_log2) {
  const float m = fmaxf(total_max, part_max);
  return MergeCoeffs{m, exp2f(__fmul_rn(__fsub_rn(total_max, m), scale_log2)),
                     exp2f(__fmul_rn(__fsub_rn(part_max, m), scale_log2))};
}

__device__ __forceinline__ float merge_value(float total, float part, const MergeCoeffs& c) {
  return __fadd_rn(__fmul_rn(total, c.keep), __fmul_rn(part, c.add));
}

}  // namespace flowkv::kernels::detail
