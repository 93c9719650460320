// Pre-filling a block pool with a seeded random history of allocations and frees, so that a
// request can be placed in a pool that looks like one that has been serving for a while:
// partly used and, for the free-list allocator, fragmented.
//
// Deterministic: the same allocator kind, pool size and options give the same blocks on every
// platform (std::mt19937_64 with our own integer mapping, no std::*_distribution).
// Used by `flowkv kv plan`, `flowkv bench-transfer` and the allocator benchmark.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "core/kv/block_allocator.h"

namespace flowkv::core {

struct PoolHistoryOptions {
  double occupancy = 0.0;  // fraction of the pool in use at the end, in [0, 1]
  uint64_t seed = 1;
  int64_t max_request_blocks = 0;    // allocation sizes are uniform in [1, this]; 0: pool / 16
  int64_t churn_per_allocation = 4;  // free+refill rounds per live allocation after the fill
};

// Runs the history on `allocator` (which should be fresh) and returns the allocations still
// live; exactly round(occupancy * num_blocks) blocks are then in use. Occupancy 0 leaves the
// pool untouched. Throws an input error when occupancy is outside [0, 1].
std::vector<BlockList> fill_pool(BlockAllocator& allocator, const PoolHistoryOptions& options);

// A uniform integer in [0, bound) from a 64-bit engine, by rejection (no modulo bias), the
// same on every standard library. bound >= 1.
uint64_t uniform_below(std::mt19937_64& rng, uint64_t bound);

}  // namespace flowkv::core
