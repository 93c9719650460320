// Compares tile shapes and cache hints of the fused segment-copy kernel against cudaMemcpyAsync
// on three plan shapes: one 1 GiB segment (FlowKV, empty pools), 5 segments (fragmented pools)
// and 40,000 scattered 32 KiB chunks (the per-block pattern of a 10k-token Llama-3.1-8B request
// on the paged layout). Kernel time only (the tables are uploaded beforehand), median of 20 runs
// after 3 warm-ups, CUDA events; every variant's output is checked (pattern + poison).
// Prints figures; never passes or fails on time.
//
// Build (from the repository root, no CMake target: it is a one-off tuning tool):
//   nvcc -std=c++20 -O3 -arch=sm_90 -I. bench/cuda/copy_kernel_bench.cu kernels/pattern.cu \
//        kernels/launch_config.cc kernels/cuda_check.cc -o copy_kernel_bench
#include <algorithm>
#include <cstdio>
#include <vector>

#include "kernels/cuda_check.h"
#include "kernels/launch_config.h"
#include "kernels/pattern.h"
#include "kernels/segment_copy_kernel.cuh"

using namespace flowkv;
using kernels::SegmentRow;

namespace {

std::vector<SegmentRow> rows_for(const std::vector<core::Copy>& copies, int64_t tile, int64_t& tiles) {
  std::vector<SegmentRow> rows;
  tiles = 0;
  for (const auto& c : copies) {
    rows.push_back({c.src_offset, c.dst_offset, c.bytes, tiles});
    tiles += (c.bytes + tile - 1) / tile;
  }
  return rows;
}

struct Case {
  const char* name;
  std::vector<core::Copy> copies;
  int64_t bytes = 0;
};

template <int kThreads, int kVecs, bool kStreaming, bool kInterleaved = false>
float time_variant(const Case& c, const char* src, char* dst, int64_t dst_bytes) {
  constexpr int64_t kTile = int64_t{kThreads} * kVecs * 16;
  int64_t tiles = 0;
  const auto rows = rows_for(c.copies, kTile, tiles);
  SegmentRow* d_rows = nullptr;
  FLOWKV_CUDA_CHECK(cudaMalloc(&d_rows, rows.size() * sizeof(SegmentRow)));
  FLOWKV_CUDA_CHECK(cudaMemcpy(d_rows, rows.data(), rows.size() * sizeof(SegmentRow), cudaMemcpyHostToDevice));
  const auto kernel = kernels::detail::SegmentCopyKernel<kThreads, kVecs, kStreaming, kInterleaved>;
  const int grid = kernels::persistent_grid(reinterpret_cast<const void*>(kernel), kThreads, tiles);
  kernels::fill_pattern(dst, dst_bytes, 2, nullptr);
  cudaEvent_t a, b;
  FLOWKV_CUDA_CHECK(cudaEventCreate(&a));
  FLOWKV_CUDA_CHECK(cudaEventCreate(&b));
  std::vector<float> ms;
  for (int i = 0; i < 23; ++i) {
    FLOWKV_CUDA_CHECK(cudaEventRecord(a));
    kernel<<<grid, kThreads>>>(d_rows, static_cast<int64_t>(rows.size()), tiles, src, dst);
    FLOWKV_CUDA_CHECK_LAUNCH();
    FLOWKV_CUDA_CHECK(cudaEventRecord(b));
    FLOWKV_CUDA_CHECK(cudaEventSynchronize(b));
    float t = 0;
    FLOWKV_CUDA_CHECK(cudaEventElapsedTime(&t, a, b));
    if (i >= 3) ms.push_back(t);
  }
  // Check: rows sorted by destination for the checker.
  auto sorted = rows;
  std::sort(sorted.begin(), sorted.end(), [](auto& x, auto& y) { return x.dst_offset < y.dst_offset; });
  FLOWKV_CUDA_CHECK(cudaMemcpy(d_rows, sorted.data(), sorted.size() * sizeof(SegmentRow), cudaMemcpyHostToDevice));
  const auto check = kernels::count_pattern_mismatches(dst, dst_bytes, d_rows, static_cast<int64_t>(sorted.size()), 1, 2, nullptr);
  if (check.mismatched_words) std::printf("  !! %lld wrong words\n", static_cast<long long>(check.mismatched_words));
  cudaFree(d_rows);
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

float time_memcpy(const Case& c, const char* src, char* dst) {
  cudaEvent_t a, b;
  FLOWKV_CUDA_CHECK(cudaEventCreate(&a));
  FLOWKV_CUDA_CHECK(cudaEventCreate(&b));
  std::vector<float> ms;
  for (int i = 0; i < 13; ++i) {
    FLOWKV_CUDA_CHECK(cudaEventRecord(a));
    for (const auto& s : c.copies) {
      FLOWKV_CUDA_CHECK(cudaMemcpyAsync(dst + s.dst_offset, src + s.src_offset, s.bytes, cudaMemcpyDeviceToDevice));
    }
    FLOWKV_CUDA_CHECK(cudaEventRecord(b));
    FLOWKV_CUDA_CHECK(cudaEventSynchronize(b));
    float t = 0;
    FLOWKV_CUDA_CHECK(cudaEventElapsedTime(&t, a, b));
    if (i >= 3) ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main() {
  const int64_t chunk = 32 << 10;            // Llama-3.1-8B: 16 tokens x 8 heads x 128 x 2 B
  const int64_t pool_blocks = 1579, blocks = 625, layers = 32;
  const int64_t pool_bytes = pool_blocks * 2 * layers * chunk;  // 3.3 GB
  char *src = nullptr, *dst = nullptr;
  FLOWKV_CUDA_CHECK(cudaMalloc(&src, pool_bytes));
  FLOWKV_CUDA_CHECK(cudaMalloc(&dst, pool_bytes));
  kernels::fill_pattern(src, pool_bytes, 1, nullptr);

  std::vector<Case> cases(3);
  cases[0].name = "1 segment of 1.22 GiB";
  cases[0].copies = {{0, 0, blocks * 2 * layers * chunk}};
  cases[1].name = "5 segments, 1.22 GiB";
  for (int i = 0; i < 5; ++i) {
    const int64_t piece = blocks / 5 * 2 * layers * chunk;
    cases[1].copies.push_back({i * piece + (i * 7 % 3) * 2 * layers * chunk, (4 - i) * piece + 3 * 2 * layers * chunk, piece});
  }
  cases[2].name = "40000 paged chunks of 32 KiB";
  for (int64_t l = 0; l < 2 * layers; ++l) {
    for (int64_t b = 0; b < blocks; ++b) {
      cases[2].copies.push_back({(l * pool_blocks + b) * chunk, (l * pool_blocks + (pool_blocks - 1 - 2 * b)) * chunk, chunk});
    }
  }
  for (auto& c : cases) {
    for (const auto& s : c.copies) c.bytes += s.bytes;
  }
  std::printf("%-30s %-33s %10s %10s\n", "plan", "variant", "median ms", "GB/s");
  for (const auto& c : cases) {
    auto report = [&](const char* name, float ms) {
      std::printf("%-30s %-33s %10.3f %10.1f\n", c.name, name, ms, c.bytes / (ms * 1e-3) / 1e9);
    };
    report("cudaMemcpyAsync per segment", time_memcpy(c, src, dst));
    report("256 thr x 4 vec", time_variant<256, 4, false>(c, src, dst, pool_bytes));
    report("256 thr x 8 vec", time_variant<256, 8, false>(c, src, dst, pool_bytes));
    report("512 thr x 4 vec", time_variant<512, 4, false>(c, src, dst, pool_bytes));
    report("256 thr x 4 vec, interleaved", time_variant<256, 4, false, true>(c, src, dst, pool_bytes));
    report("256 thr x 8 vec, interleaved", time_variant<256, 8, false, true>(c, src, dst, pool_bytes));
    report("512 thr x 8 vec, interleaved", time_variant<512, 8, false, true>(c, src, dst, pool_bytes));
    report("128 thr x 8 vec, interleaved", time_variant<128, 8, false, true>(c, src, dst, pool_bytes));
    report("256 thr x 4 vec, interl., stream", time_variant<256, 4, true, true>(c, src, dst, pool_bytes));
  }
  cudaFree(src);
  cudaFree(dst);
  return 0;
}
