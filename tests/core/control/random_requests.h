// Random requests for controller tests that run without a trace: n requests with ids 0..n-1,
// arrivals up to max_gap_ns apart, prompts of 1..max_prompt and outputs of 1..max_output tokens,
// the same for the same seed on every platform (core/kv/pool_history.h's uniform_below).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "core/base/request.h"
#include "core/kv/pool_history.h"

namespace flowkv::core::testing {

struct RandomRequests {
  int64_t max_gap_ns = 40'000'000;
  int64_t max_prompt = 3000;
  int64_t max_output = 300;
};

inline std::vector<Request> random_requests(int n, uint64_t seed, const RandomRequests& shape = {}) {
  std::mt19937_64 rng(seed);
  std::vector<Request> out;
  int64_t t = 0;
  for (int i = 0; i < n; ++i) {
    Request r;
    r.id = RequestId{static_cast<uint64_t>(i)};
    t += static_cast<int64_t>(uniform_below(rng, static_cast<uint64_t>(shape.max_gap_ns)));
    r.arrival = Time::from_nanos(t);
    r.prompt_tokens = 1 + static_cast<int64_t>(uniform_below(rng, static_cast<uint64_t>(shape.max_prompt)));
    r.output_tokens = 1 + static_cast<int64_t>(uniform_below(rng, static_cast<uint64_t>(shape.max_output)));
    out.push_back(r);
  }
  return out;
}

}  // namespace flowkv::core::testing
