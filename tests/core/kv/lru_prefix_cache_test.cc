// The prefix cache of a prefill node: leading-block hits only, LRU eviction, prefix kept over
// tail when a prompt is longer than the cache.
#include <gtest/gtest.h>

#include "core/kv/lru_prefix_cache.h"

namespace flowkv::core {
namespace {

Request req(int64_t prompt, std::vector<uint64_t> hashes) {
  Request r;
  r.prompt_tokens = prompt;
  r.output_tokens = 1;
  r.prefix_hashes = std::move(hashes);
  return r;
}

TEST(LruPrefixCache, CountsOnlyLeadingBlocks) {
  LruPrefixCache c(16);
  c.insert(req(1536, {1, 2, 3}), Time::zero());
  EXPECT_EQ(c.lookup(req(2048, {1, 2, 3, 4})), 3 * kPrefixHashBlockTokens);
  EXPECT_EQ(c.lookup(req(2048, {1, 9, 3, 4})), 1 * kPrefixHashBlockTokens);  // stops at the first miss
  EXPECT_EQ(c.lookup(req(2048, {9, 2, 3})), 0);
  EXPECT_EQ(c.lookup(req(700, {1, 2})), 700);  // never more than the prompt
  EXPECT_EQ(c.lookup(req(700, {})), 0);
}

TEST(LruPrefixCache, EvictsLeastRecentlyUsed) {
  LruPrefixCache c(4);
  c.insert(req(1024, {1, 2}), Time::zero());
  c.insert(req(1024, {3, 4}), Time::zero());
  c.insert(req(1024, {1, 2}), Time::zero());  // 1, 2 used again: 3, 4 are now the oldest
  c.insert(req(512, {5}), Time::zero());
  EXPECT_EQ(c.size(), 4);
  EXPECT_EQ(c.evictions(), 1);
  EXPECT_TRUE(c.contains(1));
  EXPECT_TRUE(c.contains(2));
  EXPECT_TRUE(c.contains(3));
  EXPECT_FALSE(c.contains(4));  // the last block of the oldest prompt went first
  EXPECT_TRUE(c.contains(5));
}

TEST(LruPrefixCache, LongPromptKeepsItsPrefix) {
  LruPrefixCache c(2);
  c.insert(req(2048, {1, 2, 3, 4}), Time::zero());
  EXPECT_TRUE(c.contains(1));
  EXPECT_TRUE(c.contains(2));
  EXPECT_EQ(c.lookup(req(2048, {1, 2, 3, 4})), 2 * kPrefixHashBlockTokens);
}

TEST(LruPrefixCache, ClearForgetsEverything) {
  LruPrefixCache c(8);
  c.insert(req(1024, {1, 2}), Time::zero());
  c.clear();
  EXPECT_EQ(c.size(), 0);
  EXPECT_EQ(c.lookup(req(1024, {1, 2})), 0);
}

}  // namespace
}  // namespace flowkv::core
