// The prefix cache owns real KV blocks of its node's pool: hits share them by reference count,
// unused entries are evicted least recently used (tail of a chain first) when the pool needs
// room, and a failed node's cache gives every block back. The invariant protected throughout:
// the pool's used blocks are exactly the cache's plus the requests' own.
#include <gtest/gtest.h>

#include "core/kv/prefix_cache.h"

namespace flowkv::core {
namespace {

constexpr int32_t kBlock = 16;
constexpr int64_t kPerEntry = kPrefixHashBlockTokens / kBlock;  // 32 blocks per 512 tokens

Request req(int64_t prompt, std::vector<uint64_t> hashes) {
  Request r;
  r.prompt_tokens = prompt;
  r.output_tokens = 1;
  r.prefix_hashes = std::move(hashes);
  return r;
}

struct Fixture {
  std::unique_ptr<BlockAllocator> pool = make_allocator(AllocatorKind::kSegment, 1024);
  PrefixCache cache{*pool, kBlock, 0};

  // A request that computes its whole prompt into fresh blocks and hands it to the cache.
  BlockList prefill(const Request& r, std::vector<PrefixCache::Ref>& refs, int64_t* owned = nullptr) {
    BlockList blocks;
    cache.acquire(r, r.prompt_tokens - 1, blocks, refs);
    const int64_t need = (r.prompt_tokens + kBlock - 1) / kBlock - total_blocks(blocks);
    EXPECT_TRUE(pool->allocate(need, blocks));
    const int64_t o = cache.insert(r, r.prompt_tokens, blocks, refs);
    if (owned) *owned = o;
    return blocks;
  }
  // What release_blocks does in the controller: free the request's own tail, drop the references.
  void finish(BlockList& blocks, std::vector<PrefixCache::Ref>& refs, int64_t owned) {
    BlockList tail;
    append_slice(tail, blocks, owned, total_blocks(blocks) - owned);
    if (!tail.empty()) pool->free(tail);
    cache.release(refs);
    blocks.clear();
  }
};

TEST(PrefixCache, CountsOnlyLeadingBlocks) {
  Fixture f;
  std::vector<PrefixCache::Ref> refs;
  int64_t owned = 0;
  BlockList b = f.prefill(req(1600, {1, 2, 3, 4}), refs, &owned);  // 3 whole 512-token blocks
  EXPECT_EQ(owned, 3 * kPerEntry);
  EXPECT_EQ(f.cache.num_entries(), 3);
  EXPECT_FALSE(f.cache.contains(4));  // the partial last block is not cached
  EXPECT_EQ(f.cache.lookup(req(2048, {1, 2, 3, 4})), 3 * kPrefixHashBlockTokens);
  EXPECT_EQ(f.cache.lookup(req(2048, {1, 9, 3, 4})), 1 * kPrefixHashBlockTokens);
  EXPECT_EQ(f.cache.lookup(req(2048, {9, 2, 3})), 0);
  EXPECT_EQ(f.cache.lookup(req(700, {1, 2})), 700);  // never more than the prompt
  f.finish(b, refs, owned);
  EXPECT_EQ(f.pool->num_used(), f.cache.held_blocks());
}

TEST(PrefixCache, AHitSharesTheCachedBlocksThemselves) {
  Fixture f;
  std::vector<PrefixCache::Ref> refs_a, refs_b;
  int64_t owned_a = 0, owned_b = 0;
  BlockList a = f.prefill(req(1100, {1, 2, 3}), refs_a, &owned_a);
  BlockList b = f.prefill(req(1300, {1, 2, 7}), refs_b, &owned_b);
  ASSERT_EQ(refs_b.size(), 2u);  // hit on 1 and 2; nothing new to insert (1300 < 3 * 512)
  EXPECT_EQ(owned_b, 2 * kPerEntry);
  BlockList a_head, b_head;
  append_slice(a_head, a, 0, 2 * kPerEntry);
  append_slice(b_head, b, 0, 2 * kPerEntry);
  EXPECT_EQ(a_head, b_head);  // the same block ids, not copies
  // 2 cached entries + a's own 3 blocks + b's own 7 blocks.
  EXPECT_EQ(f.pool->num_used(), 2 * kPerEntry + (69 - 2 * kPerEntry) + (82 - 2 * kPerEntry));
  f.finish(a, refs_a, owned_a);
  f.finish(b, refs_b, owned_b);
  EXPECT_EQ(f.pool->num_used(), 2 * kPerEntry);
}

TEST(PrefixCache, AtLeastOneTokenIsComputed) {
  Fixture f;
  std::vector<PrefixCache::Ref> refs;
  int64_t owned = 0;
  BlockList a = f.prefill(req(1024, {1, 2}), refs, &owned);
  f.finish(a, refs, owned);
  BlockList blocks;
  // The same 1024-token prompt again: only the first block may be used, so one token is left.
  EXPECT_EQ(f.cache.acquire(req(1024, {1, 2}), 1023, blocks, refs), kPrefixHashBlockTokens);
  f.cache.release(refs);
}

TEST(PrefixCache, EntriesInUseAreNeverEvicted) {
  Fixture f;
  std::vector<PrefixCache::Ref> refs;
  int64_t owned = 0;
  BlockList a = f.prefill(req(1024, {1, 2}), refs, &owned);
  EXPECT_EQ(f.cache.evict_for(1024), 0);  // a still holds both entries
  EXPECT_EQ(f.cache.num_entries(), 2);
  f.finish(a, refs, owned);
  EXPECT_EQ(f.cache.evict_for(1024), 2 * kPerEntry);
  EXPECT_EQ(f.cache.num_entries(), 0);
  EXPECT_EQ(f.pool->num_used(), 0);
  EXPECT_EQ(f.cache.evictions(), 2);
}

TEST(PrefixCache, EvictsLeastRecentlyUsedAndTheTailOfAChainFirst) {
  Fixture f;
  std::vector<PrefixCache::Ref> refs;
  int64_t owned = 0;
  BlockList a = f.prefill(req(1100, {1, 2}), refs, &owned);
  f.finish(a, refs, owned);
  BlockList b = f.prefill(req(1100, {3, 4}), refs, &owned);
  f.finish(b, refs, owned);
  // Free exactly one more entry's worth than is free now: the oldest chain's tail goes.
  f.cache.evict_for(f.pool->num_free() + 1);
  EXPECT_TRUE(f.cache.contains(1));
  EXPECT_FALSE(f.cache.contains(2));
  EXPECT_TRUE(f.cache.contains(3));
  EXPECT_TRUE(f.cache.contains(4));
}

TEST(PrefixCache, CapacityBoundsTheEntries) {
  auto pool = make_allocator(AllocatorKind::kSegment, 1024);
  PrefixCache cache(*pool, kBlock, 2);
  std::vector<PrefixCache::Ref> refs;
  BlockList blocks;
  ASSERT_TRUE(pool->allocate(3 * kPerEntry + 1, blocks));
  EXPECT_EQ(cache.insert(req(3 * 512 + 5, {1, 2, 3}), 3 * 512 + 5, blocks, refs), 2 * kPerEntry);
  EXPECT_EQ(cache.num_entries(), 2);  // in use: nothing to evict for the third
  cache.release(refs);
}

TEST(PrefixCache, ClearGivesEveryBlockBackAndMakesReferencesStale) {
  Fixture f;
  std::vector<PrefixCache::Ref> refs;
  int64_t owned = 0;
  BlockList a = f.prefill(req(1100, {1, 2}), refs, &owned);
  f.cache.clear();  // the node failed while the request held the entries
  EXPECT_EQ(f.cache.num_entries(), 0);
  EXPECT_EQ(f.cache.lookup(req(1100, {1, 2})), 0);
  f.finish(a, refs, owned);  // the stale references are ignored, the own tail is freed
  EXPECT_EQ(f.pool->num_used(), 0);
}

}  // namespace
}  // namespace flowkv::core
