// StreamingHistogram: quantiles of a huge stream of non-negative durations in fixed memory.
//
// Used for inter-token latency, where a long replay produces hundreds of millions of samples.
// Buckets are log-linear (HdrHistogram's idea, our code): each power of two is split into 256
// equal sub-buckets, so a reported quantile is within 0.4% of the true sample value; the mean and
// the standard deviation are exact (integer sums of the values and of their squares). add() is O(1) with no allocation. Deterministic; not thread-safe.
#pragma once

#include <array>
#include <cstdint>

#include "core/base/time.h"

namespace flowkv::core {

class StreamingHistogram {
 public:
  void add(Duration d, int64_t count = 1);
  void merge(const StreamingHistogram& other);

  int64_t count() const { return count_; }
  double mean_seconds() const;
  // Population standard deviation (numpy's default), exact. 0 when empty.
  double std_seconds() const;
  // q in [0, 1]: the smallest sample value v such that at least q * count samples are <= v,
  // reported as the midpoint of its bucket (exact below 512 ns). 0 when empty.
  double quantile_seconds(double q) const;
  Duration max() const { return Duration::nanos(max_ns_); }

 private:
  static constexpr int kSubBits = 8;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kBuckets = (64 - kSubBits) * kSub + kSub;
  static int bucket_of(uint64_t ns);
  static double bucket_mid(int bucket);

  std::array<int64_t, kBuckets> counts_{};
  int64_t count_ = 0;
  __extension__ using Int128 = __int128;  // a sum of nanoseconds that cannot overflow
  Int128 sum_ns_ = 0;
  // Squares of the values in ns^2: a gap of up to 2^63 ns fits 2^126, and the stream's sum stays
  // far below 2^127 for any real run (2^40 samples of 1,000 s).
  Int128 sum_sq_ns2_ = 0;
  int64_t max_ns_ = 0;
};

}  // namespace flowkv::core
