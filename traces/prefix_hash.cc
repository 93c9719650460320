#include "traces/prefix_hash.h"

#include <algorithm>

#include "core/base/request.h"
#include "traces/random.h"

namespace flowkv::traces {

uint64_t chain_block_hash(uint64_t parent, std::span<const uint64_t> block_tokens) {
  uint64_t h = mix64(parent ^ (static_cast<uint64_t>(block_tokens.size()) << 32));
  for (uint64_t token : block_tokens) h = mix64(h ^ token);
  return h;
}

std::vector<uint64_t> hash_token_blocks(std::span<const uint64_t> token_ids) {
  const size_t block = static_cast<size_t>(core::kPrefixHashBlockTokens);
  std::vector<uint64_t> hashes;
  hashes.reserve((token_ids.size() + block - 1) / block);
  uint64_t parent = kPrefixHashRoot;
  for (size_t begin = 0; begin < token_ids.size(); begin += block) {
    const size_t n = std::min(block, token_ids.size() - begin);
    parent = chain_block_hash(parent, token_ids.subspan(begin, n));
    hashes.push_back(parent);
  }
  return hashes;
}

}  // namespace flowkv::traces
