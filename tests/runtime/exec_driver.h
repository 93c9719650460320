// Test helpers for the executor tests: seeded prompts, scattered block tables, and a driver
// that runs several requests through a NodeExecutor the way the live backend does (prefill
// chunks, then one decode step per output token, several requests per run call).
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "core/kv/kv_layout.h"
#include "runtime/executor.h"

namespace flowkv::runtime::testing {

inline std::vector<int32_t> random_prompt(int64_t length, int32_t vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> out(static_cast<size_t>(length));
  for (int32_t& t : out) t = static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab));
  return out;
}

inline core::KvLayout make_layout(const core::ModelSpec& spec, core::LayoutKind kind,
                                  int32_t dtype_bytes, int32_t block_size, int64_t num_blocks) {
  core::KvLayout layout;
  layout.kind = kind;
  layout.geometry = spec.kv_geometry(block_size, num_blocks);
  layout.geometry.dtype_bytes = dtype_bytes;
  return layout;
}

// All block ids of a pool in a seeded random order: tables cut from it are scattered.
inline std::vector<int64_t> shuffled_blocks(int64_t num_blocks, uint64_t seed) {
  std::vector<int64_t> ids(static_cast<size_t>(num_blocks));
  std::iota(ids.begin(), ids.end(), 0);
  std::mt19937_64 rng(seed);
  for (size_t i = ids.size(); i > 1; --i) std::swap(ids[i - 1], ids[rng() % i]);
  return ids;
}

struct DrivenRequest {
  std::vector<int32_t> prompt;
  int64_t outputs = 0;
  std::vector<int64_t> blocks;   // the request's block table
  std::vector<int64_t> chunks;   // prefill chunk sizes (empty: the whole prompt at once)
  int64_t arrival = 0;           // the first iteration it takes part in
  // Filled by run_requests.
  std::vector<int32_t> generated;
  std::vector<float> logits;     // [generated][vocab]: each sampled token's logits
  int64_t prefilled = 0;
  size_t next_chunk = 0;
  bool done() const { return static_cast<int64_t>(generated.size()) == outputs; }
};

// Runs every request to the end; each iteration holds one piece (a prefill chunk or a decode
// step) of every request that has arrived and is not done, in the order of `requests`.
// Each sampled item's logits are kept with its token. Returns the number of iterations.
inline int64_t run_requests(NodeExecutor& node, std::vector<DrivenRequest>& requests,
                            int32_t vocab) {
  int64_t iteration = 0;
  for (;; ++iteration) {
    std::vector<ExecItem> items;
    std::vector<size_t> owner;
    std::vector<int32_t> decode_tokens(requests.size());
    for (size_t r = 0; r < requests.size(); ++r) {
      DrivenRequest& q = requests[r];
      if (q.done() || q.arrival > iteration) continue;
      ExecItem item;
      item.request = core::RequestId{r};
      item.blocks = q.blocks;
      const int64_t prompt = static_cast<int64_t>(q.prompt.size());
      if (q.prefilled < prompt) {
        const int64_t c = q.chunks.empty() ? prompt
                                           : std::min(prompt - q.prefilled,
                                                      q.chunks[q.next_chunk % q.chunks.size()]);
        item.tokens = std::span<const int32_t>(q.prompt).subspan(
            static_cast<size_t>(q.prefilled), static_cast<size_t>(c));
        item.start = q.prefilled;
        item.sample = q.prefilled + c == prompt;
      } else {
        decode_tokens[r] = q.generated.back();
        item.tokens = std::span<const int32_t>(&decode_tokens[r], 1);
        item.start = prompt + static_cast<int64_t>(q.generated.size()) - 1;
        item.sample = true;
      }
      items.push_back(item);
      owner.push_back(r);
    }
    if (items.empty()) {
      bool all_done = true;
      for (const DrivenRequest& q : requests) all_done = all_done && q.done();
      if (all_done) return iteration;
      continue;  // waiting for an arrival
    }
    std::vector<int32_t> next(items.size(), -1);
    int64_t sampled = 0;
    for (const ExecItem& item : items) sampled += item.sample ? 1 : 0;
    std::vector<float> logits(static_cast<size_t>(sampled * vocab));  // [sampled][vocab]
    node.run(items, next, logits);
    int64_t s = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      DrivenRequest& q = requests[owner[i]];
      if (q.prefilled < static_cast<int64_t>(q.prompt.size())) {
        q.prefilled += static_cast<int64_t>(items[i].tokens.size());
        ++q.next_chunk;
      }
      if (items[i].sample) {
        q.generated.push_back(next[i]);
        q.logits.insert(q.logits.end(), logits.begin() + s * vocab, logits.begin() + (s + 1) * vocab);
        ++s;
      }
    }
  }
}

}  // namespace flowkv::runtime::testing
