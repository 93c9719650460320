#include "core/base/streaming_histogram.h"

#include <bit>
#include <cmath>

namespace flowkv::core {

// Values below 2^(kSubBits+1) map one to one; above, a value with its top bit at position e
// keeps kSubBits bits after the top bit.
int StreamingHistogram::bucket_of(uint64_t ns) {
  if (ns < 2 * kSub) return static_cast<int>(ns);
  const int top = 63 - std::countl_zero(ns);          // >= kSubBits + 1
  const int shift = top - kSubBits;                     // >= 1
  const int sub = static_cast<int>((ns >> shift) & (kSub - 1));
  return (shift + 1) * kSub + sub;
}

double StreamingHistogram::bucket_mid(int bucket) {
  if (bucket < 2 * kSub) return bucket;
  const int shift = bucket / kSub - 1;
  const int sub = bucket % kSub;
  const double low = std::ldexp(static_cast<double>(kSub + sub), shift);
  const double width = std::ldexp(1.0, shift);
  return low + (width - 1.0) / 2.0;
}

void StreamingHistogram::add(Duration d, int64_t count) {
  const int64_t ns = d.ns() < 0 ? 0 : d.ns();
  counts_[static_cast<size_t>(bucket_of(static_cast<uint64_t>(ns)))] += count;
  count_ += count;
  sum_ns_ += static_cast<Int128>(ns) * count;
  sum_sq_ns2_ += static_cast<Int128>(ns) * ns * count;
  if (ns > max_ns_) max_ns_ = ns;
}

void StreamingHistogram::merge(const StreamingHistogram& other) {
  for (int i = 0; i < kBuckets; ++i) counts_[static_cast<size_t>(i)] += other.counts_[static_cast<size_t>(i)];
  count_ += other.count_;
  sum_ns_ += other.sum_ns_;
  sum_sq_ns2_ += other.sum_sq_ns2_;
  if (other.max_ns_ > max_ns_) max_ns_ = other.max_ns_;
}

double StreamingHistogram::mean_seconds() const {
  if (count_ == 0) return 0.0;
  return static_cast<double>(sum_ns_) / static_cast<double>(count_) * 1e-9;
}

double StreamingHistogram::std_seconds() const {
  if (count_ == 0) return 0.0;
  // n * sum(x^2) - sum(x)^2 exactly, then one rounding: var = that / n^2.
  const Int128 n = count_;
  const long double num = static_cast<long double>(n * sum_sq_ns2_ - sum_ns_ * sum_ns_);
  const long double var = num / (static_cast<long double>(n) * static_cast<long double>(n));
  return static_cast<double>(std::sqrt(var > 0 ? var : 0.0L)) * 1e-9;
}

double StreamingHistogram::quantile_seconds(double q) const {
  if (count_ == 0) return 0.0;
  if (q < 0) q = 0;
  if (q > 1) q = 1;
  int64_t rank = static_cast<int64_t>(std::ceil(q * static_cast<double>(count_)));
  if (rank < 1) rank = 1;
  int64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts_[static_cast<size_t>(i)];
    if (seen >= rank) {
      const double mid = bucket_mid(i);
      const double capped = mid > static_cast<double>(max_ns_) ? static_cast<double>(max_ns_) : mid;
      return capped * 1e-9;
    }
  }
  return static_cast<double>(max_ns_) * 1e-9;
}

}  // namespace flowkv::core
