#include "kernels/pattern.h"

#include "core/base/error.h"
#include "kernels/cuda_check.h"
#include "kernels/launch_config.h"

namespace flowkv::kernels {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads)
    FillPatternKernel(uint64_t* __restrict__ dst, int64_t words, uint64_t seed,
                      int64_t base_offset) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t w = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; w < words; w += stride) {
    dst[w] = pattern_word(seed, static_cast<uint64_t>(base_offset + w * 8));
  }
}

// Each thread checks one run of kRunWords consecutive words: one binary search for the first
// expected row that ends after the run starts, then a linear walk. Verification is not timed,
// so simplicity wins over coalescing here.
constexpr int64_t kRunWords = 64;

__global__ void __launch_bounds__(kThreads)
    CheckPatternKernel(const uint64_t* __restrict__ dst, int64_t words,
                       const SegmentRow* __restrict__ rows, int64_t num_rows, uint64_t src_seed,
                       uint64_t poison_seed, unsigned long long* __restrict__ mismatches,
                       unsigned long long* __restrict__ first_mismatch) {
  const int64_t runs = (words + kRunWords - 1) / kRunWords;
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t run = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; run < runs; run += stride) {
    const int64_t w0 = run * kRunWords;
    const int64_t w1 = w0 + kRunWords < words ? w0 + kRunWords : words;
    // First row with dst_offset + bytes > w0 * 8.
    int64_t lo = 0;
    int64_t hi = num_rows;
    while (lo < hi) {
      const int64_t mid = (lo + hi) / 2;
      if (rows[mid].dst_offset + rows[mid].bytes <= w0 * 8) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    int64_t r = lo;
    unsigned long long bad = 0;
    unsigned long long first = ~0ull;
    for (int64_t w = w0; w < w1; ++w) {
      const int64_t o = w * 8;
      while (r < num_rows && rows[r].dst_offset + rows[r].bytes <= o) ++r;
      uint64_t expect;
      if (r < num_rows && rows[r].dst_offset <= o) {
        expect = pattern_word(src_seed, static_cast<uint64_t>(rows[r].src_offset + (o - rows[r].dst_offset)));
      } else {
        expect = pattern_word(poison_seed, static_cast<uint64_t>(o));
      }
      if (dst[w] != expect) {
        ++bad;
        if (first == ~0ull) first = static_cast<unsigned long long>(o);
      }
    }
    if (bad) {
      atomicAdd(mismatches, bad);
      atomicMin(first_mismatch, first);
    }
  }
}

}  // namespace

void fill_pattern(void* dst, int64_t bytes, uint64_t seed, cudaStream_t stream,
                  int64_t base_offset) {
  FLOWKV_CHECK(bytes >= 0 && bytes % 8 == 0 && base_offset % 8 == 0,
               "fill_pattern needs a multiple of 8 bytes");
  const int64_t words = bytes / 8;
  if (words == 0) return;
  const int grid = persistent_grid(reinterpret_cast<const void*>(FillPatternKernel), kThreads,
                                   (words + kThreads - 1) / kThreads);
  FillPatternKernel<<<grid, kThreads, 0, stream>>>(static_cast<uint64_t*>(dst), words, seed,
                                                    base_offset);
  FLOWKV_CUDA_CHECK_LAUNCH();
}

PatternCheck count_pattern_mismatches(const void* dst, int64_t dst_bytes,
                                      const SegmentRow* expected, int64_t num_expected,
                                      uint64_t src_seed, uint64_t poison_seed,
                                      cudaStream_t stream) {
  FLOWKV_CHECK(dst_bytes >= 0 && dst_bytes % 8 == 0, "pattern check needs a multiple of 8 bytes");
  FLOWKV_CHECK(num_expected == 0 || expected != nullptr, "expected rows missing");
  unsigned long long* counters = nullptr;  // [0] mismatches, [1] first mismatch offset
  FLOWKV_CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&counters), 2 * sizeof(*counters), stream));
  const unsigned long long init[2] = {0ull, ~0ull};
  unsigned long long result[2] = {0ull, ~0ull};
  try {
    FLOWKV_CUDA_CHECK(cudaMemcpyAsync(counters, init, sizeof(init), cudaMemcpyHostToDevice, stream));
    const int64_t words = dst_bytes / 8;
    if (words > 0) {
      const int64_t runs = (words + kRunWords - 1) / kRunWords;
      const int grid = persistent_grid(reinterpret_cast<const void*>(CheckPatternKernel), kThreads,
                                     (runs + kThreads - 1) / kThreads);
      CheckPatternKernel<<<grid, kThreads, 0, stream>>>(static_cast<const uint64_t*>(dst), words,
                                                         expected, num_expected, src_seed,
                                                         poison_seed, counters, counters + 1);
      FLOWKV_CUDA_CHECK_LAUNCH();
    }
    FLOWKV_CUDA_CHECK(cudaMemcpyAsync(result, counters, sizeof(result), cudaMemcpyDeviceToHost, stream));
    FLOWKV_CUDA_CHECK(cudaFreeAsync(counters, stream));
    FLOWKV_CUDA_CHECK(cudaStreamSynchronize(stream));
  } catch (...) {
    cudaFreeAsync(counters, stream);
    throw;
  }
  PatternCheck check;
  check.mismatched_words = static_cast<int64_t>(result[0]);
  check.first_mismatch_offset = result[0] ? static_cast<int64_t>(result[1]) : -1;
  return check;
}

}  // namespace flowkv::kernels
