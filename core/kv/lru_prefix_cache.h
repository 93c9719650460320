// LruPrefixCache: the prefix cache of one node, keyed by Mooncake-style prefix hashes (one hash
// per 512-token prompt block, core/base/request.h), evicting the least recently used block.
//
// lookup() counts the request's leading hashes that are cached, stopping at the first miss (a
// block's KV is only reusable when every block before it is too), and returns them as tokens,
// capped at the prompt length. insert() adds every hash of a prompt the node has just computed
// and marks them most recently used; when more than `capacity_blocks` hashes are held, the least
// recently used go. The cache's own memory is not taken from the node's KV pool (the pool models
// the requests in flight; the capacity is a separate scenario figure, kv.prefix_cache).
// Deterministic (no iteration over hash order). Not thread-safe; one per node.
#pragma once

#include <cstdint>
#include <list>
#include <unordered_map>

#include "core/kv/prefix_cache.h"

namespace flowkv::core {

class LruPrefixCache final : public PrefixCache {
 public:
  explicit LruPrefixCache(int64_t capacity_blocks);

  int64_t lookup(const Request& request) const override;
  void insert(const Request& request, Time now) override;
  void clear() override;

  int64_t size() const { return static_cast<int64_t>(index_.size()); }
  int64_t capacity() const { return capacity_; }
  int64_t evictions() const { return evictions_; }
  bool contains(uint64_t hash) const { return index_.count(hash) != 0; }

 private:
  int64_t capacity_;
  int64_t evictions_ = 0;
  std::list<uint64_t> order_;  // most recently used first
  std::unordered_map<uint64_t, std::list<uint64_t>::iterator> index_;
};

}  // namespace flowkv::core
