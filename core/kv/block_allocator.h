// Block allocators: hand out KV blocks of one node's pool.
//
// An allocation is a list of runs of consecutive block ids (BlockRun), in the order the
// request uses them: token t lives in block (t / block_size) of the concatenated runs. Runs
// keep the simulator cheap (an 8k-token request on an empty pool is one run, not 500 ids) and
// are what the transfer planner merges.
//
// Contract: allocate(n) returns exactly n blocks or nothing (never a partial allocation);
// a block is never handed out twice before it is freed; free() takes back exactly what was
// handed out (freeing a block that is not allocated is an internal error). Not thread-safe:
// one allocator belongs to one node and is used from the control loop only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/base/ids.h"

namespace flowkv::core {

struct BlockRun {
  BlockId first{};
  int64_t count = 0;
  friend bool operator==(const BlockRun&, const BlockRun&) = default;
};
using BlockList = std::vector<BlockRun>;

int64_t total_blocks(std::span<const BlockRun> runs);
// Appends [first, first + count) to `out`, extending the last run when it continues it.
void append_run(BlockList& out, BlockId first, int64_t count);
// Appends blocks [start, start + count) of `runs` (in request order) to `out`.
void append_slice(BlockList& out, std::span<const BlockRun> runs, int64_t start, int64_t count);

struct FragmentationStats {
  int64_t free_blocks = 0;
  int64_t free_runs = 0;        // maximal runs of consecutive free block ids
  int64_t largest_free_run = 0;
};

enum class AllocatorKind { kSegment, kFreeList };

class BlockAllocator {
 public:
  virtual ~BlockAllocator() = default;
  // n >= 1. Appends the blocks' runs to `out` and returns true, or returns false and leaves
  // `out` and the allocator unchanged when fewer than n blocks are free.
  virtual bool allocate(int64_t n, BlockList& out) = 0;
  virtual void free(std::span<const BlockRun> runs) = 0;
  virtual int64_t num_blocks() const = 0;
  virtual int64_t num_free() const = 0;
  virtual FragmentationStats fragmentation() const = 0;
  virtual AllocatorKind kind() const = 0;

  int64_t num_used() const { return num_blocks() - num_free(); }
  double usage() const {
    return num_blocks() == 0 ? 0.0 : static_cast<double>(num_used()) / num_blocks();
  }
};

std::unique_ptr<BlockAllocator> make_allocator(AllocatorKind kind, int64_t num_blocks);

// "segment" | "freelist"; throws an input error naming the accepted values otherwise.
AllocatorKind parse_allocator_kind(std::string_view name);
const char* to_string(AllocatorKind kind);

}  // namespace flowkv::core
