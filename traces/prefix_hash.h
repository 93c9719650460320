// Prefix-block hashes: one 64-bit hash per kPrefixHashBlockTokens-token block of a prompt,
// chained so that a block's hash depends on every token before it. Two prompts that share
// their first k blocks therefore share their first k hashes and differ from there on, which is
// what a prefix cache keys on (Mooncake's `hash_ids` have the same property).
//
// The last block may be partial; it is hashed with its length, so it only matches a prompt with
// the same partial block. Pure functions, deterministic across platforms.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace flowkv::traces {

inline constexpr uint64_t kPrefixHashRoot = 0x666c6f776b762d31ULL;  // "flowkv-1": first parent

// The hash of one block given its parent's hash (kPrefixHashRoot for the first block).
uint64_t chain_block_hash(uint64_t parent, std::span<const uint64_t> block_tokens);

// Hashes of ceil(tokens / kPrefixHashBlockTokens) consecutive blocks of token ids.
std::vector<uint64_t> hash_token_blocks(std::span<const uint64_t> token_ids);

}  // namespace flowkv::traces
