#include "runtime/live/token_source.h"

#include "core/base/error.h"
#include "runtime/model/random_weights.h"

namespace flowkv::runtime {

std::vector<int32_t> prompt_tokens(const core::Request& request, int32_t vocab_size, uint64_t seed) {
  FLOWKV_CHECK(vocab_size > 0, "a vocabulary of no tokens");
  const auto vocab = static_cast<uint64_t>(vocab_size);
  const int64_t n = request.prompt_tokens;
  std::vector<int32_t> out(static_cast<size_t>(n));
  int64_t t = 0;
  if (!request.prompt_token_ids.empty()) {
    for (; t < n && t < static_cast<int64_t>(request.prompt_token_ids.size()); ++t) {
      out[static_cast<size_t>(t)] = static_cast<int32_t>(static_cast<uint64_t>(request.prompt_token_ids[static_cast<size_t>(t)]) % vocab);
    }
  } else {
    for (size_t b = 0; b < request.prefix_hashes.size() && t < n; ++b) {
      const uint64_t h = splitmix64(request.prefix_hashes[b]);
      for (int64_t j = 0; j < core::kPrefixHashBlockTokens && t < n; ++j, ++t) {
        out[static_cast<size_t>(t)] = static_cast<int32_t>(splitmix64(h + static_cast<uint64_t>(j)) % vocab);
      }
    }
  }
  const uint64_t base = splitmix64(seed ^ splitmix64(core::to_int(request.id) + 0x5EEDULL));
  for (; t < n; ++t) out[static_cast<size_t>(t)] = static_cast<int32_t>(splitmix64(base + static_cast<uint64_t>(t)) % vocab);
  return out;
}

}  // namespace flowkv::runtime
