#include "core/kv/pool_history.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "core/base/error.h"

namespace flowkv::core {

uint64_t uniform_below(std::mt19937_64& rng, uint64_t bound) {
  FLOWKV_CHECK(bound >= 1, "uniform_below(0)");
  // Accept draws below the largest multiple of bound, so every residue is equally likely.
  const uint64_t limit =
      std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % bound;
  uint64_t x = rng();
  while (x >= limit) x = rng();
  return x % bound;
}

namespace {

class History {
 public:
  History(BlockAllocator& allocator, const PoolHistoryOptions& options)
      : allocator_(allocator), rng_(options.seed) {
    const int64_t n = allocator.num_blocks();
    max_size_ =
        options.max_request_blocks > 0 ? options.max_request_blocks : std::max<int64_t>(1, n / 16);
  }

  int64_t used() const { return allocator_.num_used(); }

  // Allocates a random-sized request, capped at what is free; false when nothing is free.
  bool allocate_random() {
    const int64_t room = allocator_.num_free();
    if (room <= 0) return false;
    const int64_t size = std::min(
        room, 1 + static_cast<int64_t>(uniform_below(rng_, static_cast<uint64_t>(max_size_))));
    allocate(size);
    return true;
  }

  void allocate(int64_t size) {
    BlockList blocks;
    FLOWKV_CHECK(allocator_.allocate(size, blocks), "pool history: allocation failed");
    live_.push_back(std::move(blocks));
  }

  // Frees a random live allocation (order of the rest is not kept: swap with the last).
  void free_random() {
    const size_t i = static_cast<size_t>(uniform_below(rng_, live_.size()));
    allocator_.free(live_[i]);
    std::swap(live_[i], live_.back());
    live_.pop_back();
  }

  bool has_live() const { return !live_.empty(); }
  size_t num_live() const { return live_.size(); }
  std::vector<BlockList> take() { return std::move(live_); }

 private:
  BlockAllocator& allocator_;
  std::mt19937_64 rng_;
  int64_t max_size_ = 1;
  std::vector<BlockList> live_;
};

}  // namespace

std::vector<BlockList> fill_pool(BlockAllocator& allocator, const PoolHistoryOptions& options) {
  if (!(options.occupancy >= 0.0 && options.occupancy <= 1.0)) {
    throw_input_error("occupancy " + std::to_string(options.occupancy) +
                      ": expected a fraction in [0, 1]");
  }
  FLOWKV_CHECK(options.churn_per_allocation >= 0, "negative churn");
  const int64_t target =
      std::llround(options.occupancy * static_cast<double>(allocator.num_blocks()));
  History h(allocator, options);
  if (target == 0) return {};

  // Fill up to the target, then churn: free a random allocation and refill to the target, so
  // frees land in the middle of the pool the way finished requests do.
  while (h.used() < target) h.allocate_random();
  const int64_t rounds = options.churn_per_allocation * static_cast<int64_t>(h.num_live());
  for (int64_t r = 0; r < rounds && h.has_live(); ++r) {
    h.free_random();
    while (h.used() < target) {
      if (!h.allocate_random()) break;
    }
  }
  // Settle on exactly the target: drop allocations until at or below it, then top it up with
  // one allocation of the difference.
  while (h.used() > target) h.free_random();
  if (h.used() < target) h.allocate(target - h.used());
  FLOWKV_CHECK(h.used() == target, "pool history missed its occupancy");
  return h.take();
}

}  // namespace flowkv::core
