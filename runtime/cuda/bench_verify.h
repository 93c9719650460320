// Byte checks of `flowkv bench-transfer`: where a request's bytes must land, and the check of
// a whole destination pool against that expectation (kernels/pattern.h) after a transfer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/kv/kv_layout.h"
#include "kernels/segment_copy.h"

namespace flowkv::runtime {

// The data seeds of the bench, derived from its --seed: the source pools' pattern and the
// destination pools' poison.
inline uint64_t source_seed(uint64_t seed) { return seed * 4 + 1; }
inline uint64_t poison_seed(uint64_t seed) { return seed * 4 + 2; }

// For every block i and every (layer, K|V): the chunk of block src_ids[i] in `src` lands on
// the chunk of block dst_ids[i] in `dst`. Built from KvLayout::chunk_offset alone, not from
// core::plan_transfer, so it also checks the plan. Sorted by destination offset; rows that
// continue each other on both sides are merged.
std::vector<kernels::SegmentRow> expected_rows(const core::KvLayout& src,
                                               std::span<const int64_t> src_ids,
                                               const core::KvLayout& dst,
                                               std::span<const int64_t> dst_ids);

// Checks dst[0, bytes) on the device: inside `expected` the source pattern of
// source_seed(seed), elsewhere the poison of poison_seed(seed). Throws core::Error(kRuntime)
// naming `what`, the number of wrong 8-byte words and the first wrong offset.
void verify_destination(const std::byte* dst, int64_t bytes,
                        const std::vector<kernels::SegmentRow>& expected, uint64_t seed,
                        const std::string& what);

}  // namespace flowkv::runtime
