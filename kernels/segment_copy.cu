#include "kernels/segment_copy.h"

#include <string>

#include "core/base/error.h"
#include "kernels/cuda_check.h"
#include "kernels/launch_config.h"
#include "kernels/segment_copy_kernel.cuh"
#include "kernels/tile_copy.cuh"

namespace flowkv::kernels {
namespace {

using detail::kCopyThreads;
using detail::kCopyTileBytes;
using detail::kCopyVecs;

}  // namespace

SegmentTable build_segment_table(std::span<const core::Copy> copies) {
  SegmentTable table;
  table.rows.reserve(copies.size());
  for (size_t i = 0; i < copies.size(); ++i) {
    const core::Copy& c = copies[i];
    if (c.bytes < 0 || c.src_offset < 0 || c.dst_offset < 0 || c.src_offset % kCopyAlignment ||
        c.dst_offset % kCopyAlignment || c.bytes % kCopyAlignment) {
      throw core::Error(core::ErrorKind::kUnsupported,
                        "segment copy needs non-negative offsets and sizes that are multiples of " +
                            std::to_string(kCopyAlignment) + " bytes; copy #" + std::to_string(i) +
                            " is {src_offset " + std::to_string(c.src_offset) + ", dst_offset " +
                            std::to_string(c.dst_offset) + ", bytes " + std::to_string(c.bytes) +
                            "}");
    }
    if (c.bytes == 0) continue;
    table.rows.push_back({c.src_offset, c.dst_offset, c.bytes, table.num_tiles});
    table.num_tiles += (c.bytes + kCopyTileBytes - 1) / kCopyTileBytes;
    table.bytes += c.bytes;
  }
  return table;
}

void segment_copy(const DeviceSegmentTable& table, const void* src, void* dst,
                  cudaStream_t stream) {
  if (table.num_tiles == 0) return;
  FLOWKV_CHECK(table.rows != nullptr && table.num_rows > 0, "segment table has tiles but no rows");
  const auto kernel = detail::SegmentCopyKernel<kCopyThreads, kCopyVecs, detail::kCopyStreaming>;
  const int grid =
      persistent_grid(reinterpret_cast<const void*>(kernel), kCopyThreads, table.num_tiles);
  kernel<<<grid, kCopyThreads, 0, stream>>>(
      table.rows, table.num_rows, table.num_tiles, static_cast<const char*>(src),
      static_cast<char*>(dst));
  FLOWKV_CUDA_CHECK_LAUNCH();
}

void segment_copy_preload() {
  const auto kernel = detail::SegmentCopyKernel<kCopyThreads, kCopyVecs, detail::kCopyStreaming>;
  cudaFuncAttributes attributes{};
  FLOWKV_CUDA_CHECK(cudaFuncGetAttributes(&attributes, reinterpret_cast<const void*>(kernel)));
  persistent_grid(reinterpret_cast<const void*>(kernel), kCopyThreads, 1);
}

int64_t segment_copy_tile_bytes() { return kCopyTileBytes; }

}  // namespace flowkv::kernels
