// apply_transforms(): window, first N, rate scale and context clamp, each counted in the stats.
#include <gtest/gtest.h>

#include <string>

#include "tests/traces/test_files.h"
#include "traces/trace.h"

namespace flowkv::traces {
namespace {

using testing::input_error_of;

// Requests at 0, 1, ..., n-1 seconds; request i has prompt 100 * (i + 1) and 4 prefix hashes.
Trace ramp(int n) {
  Trace t;
  t.source = "ramp";
  for (int i = 0; i < n; ++i) {
    core::Request r;
    r.arrival = core::Time::zero() + core::Duration::seconds(i);
    r.prompt_tokens = 100 * (i + 1);
    r.output_tokens = 50;
    r.prefix_hashes = {1, 2, 3, 4};
    t.requests.push_back(r);
  }
  normalize_requests(t.requests);
  return t;
}

TEST(Transforms, RateScaleCompressesTime) {
  Trace t = ramp(5);
  TraceTransforms x;
  x.rate_scale = 4.0;
  apply_transforms(t, x);
  ASSERT_EQ(t.requests.size(), 5u);
  EXPECT_EQ(t.requests[4].arrival.ns(), 1'000'000'000);
  EXPECT_EQ(t.requests[1].arrival.ns(), 250'000'000);
  x.rate_scale = 0.5;  // stretch
  apply_transforms(t, x);
  EXPECT_EQ(t.requests[4].arrival.ns(), 2'000'000'000);
}

TEST(Transforms, WindowKeepsHalfOpenRangeAndRezeroes) {
  Trace t = ramp(10);
  TraceTransforms x;
  x.window_start = core::Duration::seconds(3);
  x.window_end = core::Duration::seconds(6);
  apply_transforms(t, x);
  ASSERT_EQ(t.requests.size(), 3u);  // arrivals 3, 4, 5
  EXPECT_EQ(t.requests[0].arrival, core::Time::zero());
  EXPECT_EQ(t.requests[0].prompt_tokens, 400);
  EXPECT_EQ(core::to_int(t.requests[2].id), 2u);
  EXPECT_EQ(t.stats.outside_window, 7);
}

TEST(Transforms, WindowThenFirstNThenScale) {
  Trace t = ramp(10);
  TraceTransforms x;
  x.window_start = core::Duration::seconds(2);
  x.max_requests = 4;
  x.rate_scale = 2.0;
  apply_transforms(t, x);
  ASSERT_EQ(t.requests.size(), 4u);
  EXPECT_EQ(t.requests[0].prompt_tokens, 300);
  EXPECT_EQ(t.requests[3].arrival.ns(), 1'500'000'000);
  EXPECT_EQ(t.stats.outside_window, 2);
  EXPECT_EQ(t.stats.beyond_max_requests, 4);
}

TEST(Transforms, ClampToContextIsCountedAndKeepsWholeBlocks) {
  Trace t;
  for (int64_t prompt : {100, 900, 1500, 4000}) {
    core::Request r;
    r.prompt_tokens = prompt;
    r.output_tokens = 200;
    r.prefix_hashes = std::vector<uint64_t>(static_cast<size_t>((prompt + 511) / 512), 9);
    t.requests.push_back(r);
  }
  normalize_requests(t.requests);
  TraceTransforms x;
  x.max_context = 1024;
  apply_transforms(t, x);
  EXPECT_EQ(t.stats.clamped, 3);
  EXPECT_EQ(t.requests[0].prompt_tokens, 100);  // 300 fits
  EXPECT_EQ(t.requests[0].output_tokens, 200);
  EXPECT_EQ(t.requests[1].prompt_tokens, 900);  // output shortened
  EXPECT_EQ(t.requests[1].output_tokens, 124);
  EXPECT_EQ(t.requests[1].prefix_hashes.size(), 2u);
  EXPECT_EQ(t.requests[2].prompt_tokens, 1023);  // prompt cut, one output token left
  EXPECT_EQ(t.requests[2].output_tokens, 1);
  EXPECT_EQ(t.requests[2].prefix_hashes.size(), 1u);  // only the whole first block survives
  EXPECT_EQ(t.requests[3].prompt_tokens + t.requests[3].output_tokens, 1024);
}

TEST(Transforms, BadValuesAndEmptyWindow) {
  Trace t = ramp(3);
  TraceTransforms x;
  x.rate_scale = 0.0;
  EXPECT_EQ(input_error_of([&] { apply_transforms(t, x); }),
            "rate_scale: expected a positive number, got 0");
  x = {};
  x.window_start = core::Duration::seconds(100);
  EXPECT_EQ(input_error_of([&] { apply_transforms(t, x); }),
            "time window [100.000 s, end) keeps no request of ramp (which spans 2.000 s)");
  x = {};
  x.max_context = 1;
  EXPECT_EQ(input_error_of([&] { apply_transforms(t, x); }),
            "clamp_to_context: expected at least 2 tokens (one prompt, one output), got 1");
  x = {};
  x.max_requests = 0;
  EXPECT_EQ(input_error_of([&] { apply_transforms(t, x); }),
            "max_requests: expected a positive integer, got 0");
}

}  // namespace
}  // namespace flowkv::traces
