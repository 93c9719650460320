// PrefixCache: the hook through which a node can skip prefill work for a prompt prefix it has
// already computed (Mooncake's hash_ids, 512-token blocks).
//
// The controller holds one optional cache per node (none by default). When a global scheduler
// routes a request it may say how many prompt tokens are cached on the chosen prefill node
// (RouteDecision::cached_prompt_tokens); those tokens cost no compute, although their KV still
// takes blocks in the request's allocation (the cache's own memory is not modelled here). After a
// prefill completes the controller calls insert(). The LRU implementation and the policies that
// use it belong to the FlowKV scheduling work (issue 5). Not thread-safe.
#pragma once

#include <cstdint>

#include "core/base/request.h"
#include "core/base/time.h"

namespace flowkv::core {

class PrefixCache {
 public:
  virtual ~PrefixCache() = default;
  // Prompt tokens of `request` whose KV the node holds (a multiple of kPrefixHashBlockTokens).
  virtual int64_t lookup(const Request& request) const = 0;
  // The node has just computed `request`'s prompt at `now`.
  virtual void insert(const Request& request, Time now) = 0;
  // The node failed and lost its KV (core/sched/recovery.h): forget every prefix.
  virtual void clear() = 0;
};

}  // namespace flowkv::core
