// Verifiable pseudo-random data for transfer checks, generated and checked on the device so a
// multi-GiB pool is filled and verified in milliseconds.
//
// The 8-byte word at byte offset o of a buffer filled with seed s is pattern_word(s, o): data
// that depends on its position, so a byte that lands at the wrong place, or a place never
// written, is seen. A destination is "poisoned" by filling it with another seed before a
// transfer; afterwards every byte must hold either the source's pattern (inside the expected
// ranges) or still the poison (everywhere else).
//
// Contract: buffers and sizes are multiples of 8 bytes. fill_pattern only enqueues work;
// count_pattern_mismatches synchronizes `stream` and returns the result.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/base/host_device.h"
#include "kernels/segment_copy.h"

namespace flowkv::kernels {

// splitmix64 of the seed and the offset: cheap, and no two nearby offsets collide.
FLOWKV_HOST_DEVICE constexpr uint64_t pattern_word(uint64_t seed, uint64_t byte_offset) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + byte_offset + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// dst[0, bytes): word at offset o = pattern_word(seed, base_offset + o).
void fill_pattern(void* dst, int64_t bytes, uint64_t seed, cudaStream_t stream,
                  int64_t base_offset = 0);

struct PatternCheck {
  int64_t mismatched_words = 0;
  int64_t first_mismatch_offset = -1;  // byte offset in dst, -1 when none
};

// Checks dst[0, dst_bytes) against the expectation: for each row of `expected` (device rows,
// sorted by dst_offset, non-overlapping; src_offset/first_tile unused beyond src_offset),
// the word at row.dst_offset + k must be pattern_word(src_seed, row.src_offset + k); every
// other word must be pattern_word(poison_seed, offset). Synchronizes `stream`.
PatternCheck count_pattern_mismatches(const void* dst, int64_t dst_bytes,
                                      const SegmentRow* expected, int64_t num_expected,
                                      uint64_t src_seed, uint64_t poison_seed,
                                      cudaStream_t stream);

}  // namespace flowkv::kernels
