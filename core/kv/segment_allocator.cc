#include "core/kv/segment_allocator.h"

#include <algorithm>
#include <string>
#include <vector>

#include "core/base/error.h"

namespace flowkv::core {

SegmentAllocator::SegmentAllocator(int64_t num_blocks) : free_(num_blocks) {}

bool SegmentAllocator::allocate(int64_t n, BlockList& out) {
  FLOWKV_CHECK(n >= 1, "allocate(" + std::to_string(n) + ")");
  if (n > free_.num_free()) return false;
  // The common case, one run that fits, without the general path's vector and sort: this runs
  // for every decode block the simulator grows.
  if (const auto taken = free_.take_best_fit(n)) {
    append_run(out, static_cast<BlockId>(taken->first), n);
    return true;
  }
  // Best fit for what is left; when nothing fits, the largest run whole. The first round is
  // the plain best fit, and the loop ends because enough blocks are free.
  std::vector<FreeRunSet::Run> taken;
  int64_t remaining = n;
  while (remaining > 0) {
    FreeRunSet::Run run;
    if (auto fit = free_.best_fit(remaining)) {
      run = FreeRunSet::Run{fit->first, remaining};
    } else {
      run = free_.largest();
    }
    free_.erase(run.first, run.count);
    taken.push_back(run);
    remaining -= run.count;
  }
  // Ascending ids: the request's block order follows the pool's, which keeps the transfer
  // plan's pieces in address order on the source.
  std::sort(taken.begin(), taken.end(),
            [](const FreeRunSet::Run& a, const FreeRunSet::Run& b) { return a.first < b.first; });
  for (const auto& run : taken) append_run(out, static_cast<BlockId>(run.first), run.count);
  return true;
}

void SegmentAllocator::free(std::span<const BlockRun> runs) {
  for (const BlockRun& r : runs) {
    if (r.count == 0) continue;
    free_.insert(to_int(r.first), r.count);
  }
}

FragmentationStats SegmentAllocator::fragmentation() const {
  return FragmentationStats{free_.num_free(), free_.num_runs(), free_.largest().count};
}

}  // namespace flowkv::core
