#include "core/kv/block_allocator.h"

#include <algorithm>
#include <string>

#include "core/base/error.h"
#include "core/kv/free_list_allocator.h"
#include "core/kv/segment_allocator.h"

namespace flowkv::core {

int64_t total_blocks(std::span<const BlockRun> runs) {
  int64_t n = 0;
  for (const BlockRun& r : runs) n += r.count;
  return n;
}

void append_run(BlockList& out, BlockId first, int64_t count) {
  if (count == 0) return;
  if (!out.empty()) {
    BlockRun& last = out.back();
    if (int64_t{to_int(last.first)} + last.count == int64_t{to_int(first)}) {
      last.count += count;
      return;
    }
  }
  out.push_back(BlockRun{first, count});
}

void append_slice(BlockList& out, std::span<const BlockRun> runs, int64_t start, int64_t count) {
  FLOWKV_CHECK(start >= 0 && count >= 0, "negative block slice");
  for (const BlockRun& r : runs) {
    if (count == 0) return;
    if (start >= r.count) {
      start -= r.count;
      continue;
    }
    const int64_t take = std::min(r.count - start, count);
    append_run(out, BlockId{static_cast<uint32_t>(int64_t{to_int(r.first)} + start)}, take);
    count -= take;
    start = 0;
  }
  FLOWKV_CHECK(count == 0, "block slice past the end of the list");
}

std::unique_ptr<BlockAllocator> make_allocator(AllocatorKind kind, int64_t num_blocks) {
  switch (kind) {
    case AllocatorKind::kSegment:
      return std::make_unique<SegmentAllocator>(num_blocks);
    case AllocatorKind::kFreeList:
      return std::make_unique<FreeListAllocator>(num_blocks);
  }
  throw Error(ErrorKind::kInternal, "make_allocator: unknown allocator kind");
}

AllocatorKind parse_allocator_kind(std::string_view name) {
  if (name == "segment") return AllocatorKind::kSegment;
  if (name == "freelist") return AllocatorKind::kFreeList;
  throw_input_error("unknown allocator '" + std::string(name) +
                    "': expected one of segment, freelist");
}

const char* to_string(AllocatorKind kind) {
  switch (kind) {
    case AllocatorKind::kSegment:
      return "segment";
    case AllocatorKind::kFreeList:
      return "freelist";
  }
  return "unknown";
}

}  // namespace flowkv::core
