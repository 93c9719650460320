// PrefixCache: the prefix cache of one node, holding real KV blocks of its pool, keyed by
// Mooncake-style prefix hashes (one hash per kPrefixHashBlockTokens-token prompt block,
// core/base/request.h). The models are vLLM's automatic prefix caching and SGLang's radix cache.
//
// An entry is one hash block: the block_size-token KV blocks that hold its 512 tokens, owned by
// the cache and shared by reference count with the requests that use them.
//   - lookup(): how many leading prompt tokens are cached (stops at the first missing hash: a
//     block's KV is reusable only when every block before it is). What routing policies read.
//   - acquire(): a request starting its prefill takes references on its leading cached entries
//     and gets their KV blocks as the first blocks of its own list; those tokens are not computed.
//   - insert(): after the prefill, the request hands the cache the blocks of its prompt's further
//     whole hash blocks (the request keeps a reference to them): the cache now owns the request's
//     leading owned_blocks() blocks. It stops at the first hash another request has cached since.
//   - release(): the request is done with its prefill-side KV; entries nobody references become
//     evictable, the request's later blocks first (so a chain loses its tail before its head).
//   - evict_for(): frees evictable entries, least recently used first, when the pool needs room.
//     The controller calls it when an allocation on this node fails.
//   - clear(): the node failed and lost its KV: every entry goes, its blocks return to the pool,
//     and the requests' references go stale (release() ignores them).
// So the simulator counts the cache's memory and the live backend reuses the bytes: both see the
// same blocks. A capacity (kv.prefix_cache: N) bounds the entries; without one the pool does.
// Deterministic (no iteration over hash order). Not thread-safe; one per node, used by the
// controller's thread.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "core/base/request.h"
#include "core/kv/block_allocator.h"

namespace flowkv::core {

class PrefixCache {
 public:
  // A reference a request holds on one entry; stale once the entry is gone.
  struct Ref {
    uint32_t entry = 0;
    uint32_t generation = 0;
  };

  // `pool`: the node's allocator (the cache frees evicted entries into it). `block_size` must
  // divide kPrefixHashBlockTokens. `max_entries` 0: bounded by the pool only.
  PrefixCache(BlockAllocator& pool, int32_t block_size, int64_t max_entries);

  int64_t lookup(const Request& request) const;

  // References the leading cached entries of `request`, at most `max_tokens` worth (whole
  // entries), appends their blocks to `blocks` (which must be empty) and the references to
  // `refs`. Returns the tokens they hold.
  int64_t acquire(const Request& request, int64_t max_tokens, BlockList& blocks, std::vector<Ref>& refs);

  // `blocks` hold the KV of `prompt_tokens` prompt tokens of `request`, the first `refs.size()`
  // entries being the acquired ones. Takes over the blocks of the following whole hash blocks
  // the cache lacks (references added to `refs`). Returns how many of the leading blocks of
  // `blocks` the cache owns now.
  int64_t insert(const Request& request, int64_t prompt_tokens, std::span<const BlockRun> blocks,
                 std::vector<Ref>& refs);

  // Drops `refs` (stale ones are ignored) and clears it.
  void release(std::vector<Ref>& refs);

  // Frees evictable entries, least recently used first, until `wanted` blocks are free in the
  // pool or nothing is evictable. Returns the blocks freed.
  int64_t evict_for(int64_t wanted);

  void clear();

  int64_t blocks_per_entry() const { return blocks_per_entry_; }
  int64_t num_entries() const { return static_cast<int64_t>(index_.size()); }
  int64_t held_blocks() const { return num_entries() * blocks_per_entry_; }
  int64_t evictions() const { return evictions_; }
  bool contains(uint64_t hash) const { return index_.count(hash) != 0; }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  struct Entry {
    uint64_t hash = 0;
    BlockList blocks;
    int32_t refs = 0;
    uint32_t generation = 0;
    bool live = false;
    uint32_t prev = kNone, next = kNone;  // LRU list of evictable entries (refs == 0)
  };
  bool valid(const Ref& r) const;
  void lru_push_back(uint32_t e);  // most recent at the back
  void lru_unlink(uint32_t e);
  void drop(uint32_t e);           // frees the entry's blocks and the entry

  BlockAllocator& pool_;
  int64_t blocks_per_entry_;
  int64_t max_entries_;
  int64_t evictions_ = 0;
  std::vector<Entry> entries_;
  std::vector<uint32_t> free_entries_;
  std::unordered_map<uint64_t, uint32_t> index_;
  uint32_t lru_head_ = kNone, lru_tail_ = kNone;  // head: least recently used
};

}  // namespace flowkv::core
