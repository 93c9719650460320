#include "core/kv/prefix_cache.h"

#include <algorithm>
#include <string>

#include "core/base/error.h"

namespace flowkv::core {

PrefixCache::PrefixCache(BlockAllocator& pool, int32_t block_size, int64_t max_entries)
    : pool_(pool), max_entries_(max_entries) {
  FLOWKV_CHECK(block_size > 0 && kPrefixHashBlockTokens % block_size == 0,
               "a prefix cache needs a block size dividing " + std::to_string(kPrefixHashBlockTokens));
  FLOWKV_CHECK(max_entries >= 0, "negative prefix cache capacity");
  blocks_per_entry_ = kPrefixHashBlockTokens / block_size;
}

int64_t PrefixCache::lookup(const Request& request) const {
  int64_t blocks = 0;
  for (const uint64_t h : request.prefix_hashes) {
    if (index_.count(h) == 0) break;
    ++blocks;
  }
  return std::min(blocks * kPrefixHashBlockTokens, request.prompt_tokens);
}

bool PrefixCache::valid(const Ref& r) const {
  return r.entry < entries_.size() && entries_[r.entry].live && entries_[r.entry].generation == r.generation;
}

void PrefixCache::lru_push_back(uint32_t e) {
  Entry& x = entries_[e];
  x.prev = lru_tail_;
  x.next = kNone;
  if (lru_tail_ != kNone) {
    entries_[lru_tail_].next = e;
  } else {
    lru_head_ = e;
  }
  lru_tail_ = e;
}

void PrefixCache::lru_unlink(uint32_t e) {
  Entry& x = entries_[e];
  if (x.prev != kNone) {
    entries_[x.prev].next = x.next;
  } else {
    lru_head_ = x.next;
  }
  if (x.next != kNone) {
    entries_[x.next].prev = x.prev;
  } else {
    lru_tail_ = x.prev;
  }
  x.prev = x.next = kNone;
}

void PrefixCache::drop(uint32_t e) {
  Entry& x = entries_[e];
  if (x.refs == 0) lru_unlink(e);
  pool_.free(x.blocks);
  index_.erase(x.hash);
  x.blocks.clear();
  x.live = false;
  x.refs = 0;
  ++x.generation;
  free_entries_.push_back(e);
}

int64_t PrefixCache::acquire(const Request& request, int64_t max_tokens, BlockList& blocks, std::vector<Ref>& refs) {
  FLOWKV_CHECK(blocks.empty() && refs.empty(), "prefix cache acquire into a non-empty block list");
  int64_t tokens = 0;
  for (const uint64_t h : request.prefix_hashes) {
    if (tokens + kPrefixHashBlockTokens > max_tokens) break;
    const auto it = index_.find(h);
    if (it == index_.end()) break;
    const uint32_t e = it->second;
    Entry& x = entries_[e];
    if (x.refs++ == 0) lru_unlink(e);
    for (const BlockRun& r : x.blocks) append_run(blocks, r.first, r.count);
    refs.push_back(Ref{e, x.generation});
    tokens += kPrefixHashBlockTokens;
  }
  return tokens;
}

int64_t PrefixCache::insert(const Request& request, int64_t prompt_tokens, std::span<const BlockRun> blocks,
                            std::vector<Ref>& refs) {
  const int64_t whole = std::min<int64_t>(prompt_tokens / kPrefixHashBlockTokens,
                                          static_cast<int64_t>(request.prefix_hashes.size()));
  FLOWKV_CHECK(total_blocks(blocks) >= whole * blocks_per_entry_, "prefix cache insert beyond the request's blocks");
  for (int64_t i = static_cast<int64_t>(refs.size()); i < whole; ++i) {
    const uint64_t h = request.prefix_hashes[static_cast<size_t>(i)];
    if (index_.count(h) != 0) break;  // another request cached it meanwhile: ours stays ours
    if (max_entries_ > 0 && num_entries() >= max_entries_) {
      if (lru_head_ == kNone) break;  // full of entries in use
      drop(lru_head_);
      ++evictions_;
    }
    uint32_t e;
    if (!free_entries_.empty()) {
      e = free_entries_.back();
      free_entries_.pop_back();
    } else {
      e = static_cast<uint32_t>(entries_.size());
      entries_.emplace_back();
    }
    Entry& x = entries_[e];
    x.hash = h;
    x.blocks.clear();
    append_slice(x.blocks, blocks, i * blocks_per_entry_, blocks_per_entry_);
    x.refs = 1;
    x.live = true;
    x.prev = x.next = kNone;
    index_.emplace(h, e);
    refs.push_back(Ref{e, x.generation});
  }
  return static_cast<int64_t>(refs.size()) * blocks_per_entry_;
}

void PrefixCache::release(std::vector<Ref>& refs) {
  for (auto it = refs.rbegin(); it != refs.rend(); ++it) {
    if (!valid(*it)) continue;
    Entry& x = entries_[it->entry];
    FLOWKV_CHECK(x.refs > 0, "prefix cache entry released more often than acquired");
    if (--x.refs == 0) lru_push_back(it->entry);
  }
  refs.clear();
}

int64_t PrefixCache::evict_for(int64_t wanted) {
  int64_t freed = 0;
  while (pool_.num_free() < wanted && lru_head_ != kNone) {
    freed += total_blocks(entries_[lru_head_].blocks);
    drop(lru_head_);
    ++evictions_;
  }
  return freed;
}

void PrefixCache::clear() {
  for (uint32_t e = 0; e < entries_.size(); ++e) {
    if (entries_[e].live) drop(e);
  }
  lru_head_ = lru_tail_ = kNone;
}

}  // namespace flowkv::core
