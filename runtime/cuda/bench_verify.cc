#include "runtime/cuda/bench_verify.h"

#include <algorithm>

#include "core/base/error.h"
#include "kernels/cuda_check.h"
#include "kernels/pattern.h"
#include "runtime/cuda/cuda_handles.h"

namespace flowkv::runtime {

std::vector<kernels::SegmentRow> expected_rows(const core::KvLayout& src,
                                               std::span<const int64_t> src_ids,
                                               const core::KvLayout& dst,
                                               std::span<const int64_t> dst_ids) {
  FLOWKV_CHECK(src_ids.size() == dst_ids.size(), "source and destination block counts differ");
  const int64_t chunk = src.geometry.chunk_bytes();
  std::vector<kernels::SegmentRow> rows;
  rows.reserve(src_ids.size() * static_cast<size_t>(src.geometry.chunks_per_block()));
  for (size_t i = 0; i < src_ids.size(); ++i) {
    for (int32_t layer = 0; layer < src.geometry.num_layers; ++layer) {
      for (int32_t kv = 0; kv < src.geometry.kv_parts; ++kv) {
        rows.push_back({src.chunk_offset(layer, kv, src_ids[i]),
                        dst.chunk_offset(layer, kv, dst_ids[i]), chunk, 0});
      }
    }
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.dst_offset < b.dst_offset; });
  std::vector<kernels::SegmentRow> merged;
  for (const auto& r : rows) {
    if (!merged.empty()) {
      auto& last = merged.back();
      FLOWKV_CHECK(last.dst_offset + last.bytes <= r.dst_offset, "two chunks land on the same bytes");
      if (last.dst_offset + last.bytes == r.dst_offset && last.src_offset + last.bytes == r.src_offset) {
        last.bytes += r.bytes;
        continue;
      }
    }
    merged.push_back(r);
  }
  return merged;
}

void verify_destination(const std::byte* dst, int64_t bytes,
                        const std::vector<kernels::SegmentRow>& expected, uint64_t seed,
                        const std::string& what) {
  DeviceBuffer rows(static_cast<int64_t>(expected.size() * sizeof(kernels::SegmentRow)));
  if (!expected.empty()) {
    FLOWKV_CUDA_CHECK(cudaMemcpy(rows.data(), expected.data(), rows.bytes(), cudaMemcpyHostToDevice));
  }
  const kernels::PatternCheck check = kernels::count_pattern_mismatches(
      dst, bytes, rows.as<kernels::SegmentRow>(), static_cast<int64_t>(expected.size()),
      source_seed(seed), poison_seed(seed), nullptr);
  if (check.mismatched_words != 0) {
    throw core::Error(core::ErrorKind::kRuntime,
                      "byte check failed for " + what + ": " + std::to_string(check.mismatched_words) +
                          " wrong 8-byte words of " + std::to_string(bytes / 8) +
                          ", the first at destination offset " +
                          std::to_string(check.first_mismatch_offset));
  }
}

}  // namespace flowkv::runtime
