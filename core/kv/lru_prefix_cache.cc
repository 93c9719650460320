#include "core/kv/lru_prefix_cache.h"

#include <algorithm>

#include "core/base/error.h"

namespace flowkv::core {

LruPrefixCache::LruPrefixCache(int64_t capacity_blocks) : capacity_(capacity_blocks) {
  FLOWKV_CHECK(capacity_blocks >= 1, "a prefix cache needs room for at least one block");
}

int64_t LruPrefixCache::lookup(const Request& request) const {
  int64_t blocks = 0;
  for (const uint64_t h : request.prefix_hashes) {
    if (index_.count(h) == 0) break;
    ++blocks;
  }
  return std::min(blocks * kPrefixHashBlockTokens, request.prompt_tokens);
}

void LruPrefixCache::insert(const Request& request, Time) {
  // Back to front, so that the leading blocks end up the most recent: a prompt longer than the
  // cache keeps its prefix (what lookups can use), not its tail.
  for (auto h_it = request.prefix_hashes.rbegin(); h_it != request.prefix_hashes.rend(); ++h_it) {
    const uint64_t h = *h_it;
    auto it = index_.find(h);
    if (it != index_.end()) {
      order_.splice(order_.begin(), order_, it->second);
      continue;
    }
    order_.push_front(h);
    index_.emplace(h, order_.begin());
  }
  while (static_cast<int64_t>(index_.size()) > capacity_) {
    index_.erase(order_.back());
    order_.pop_back();
    ++evictions_;
  }
}

void LruPrefixCache::clear() {
  order_.clear();
  index_.clear();
}

}  // namespace flowkv::core
