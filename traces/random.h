// Seeded random numbers that are byte-identical on every platform.
//
// The standard library's distributions (std::normal_distribution, ...) are implementation-defined,
// so the same seed gives different workloads with libstdc++ and libc++. Rng draws only raw 64-bit
// words from std::mt19937_64 (fully specified by the standard) and turns them into variates with
// our own formulas. Independent streams (arrivals, lengths, prefixes) are derived from one seed so
// that changing one aspect of a generator does not reshuffle the others.
//
// Not thread-safe: one Rng per thread or per stream.
#pragma once

#include <cstdint>
#include <random>

namespace flowkv::traces {

// SplitMix64's output function: a bijective 64-bit mixer, used to derive stream seeds and to
// chain prefix-block hashes.
constexpr uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

class Rng {
 public:
  // `stream` separates independent sequences drawn from one user seed.
  Rng(uint64_t seed, uint64_t stream) : engine_(mix64(seed ^ mix64(stream + 1))) {}

  uint64_t next_u64() { return engine_(); }
  // Uniform in [0, 1) with 53 random bits.
  double uniform01() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  // Uniform integer in [lo, hi], inclusive; lo <= hi.
  int64_t uniform_int(int64_t lo, int64_t hi);
  // Exponential with the given rate (mean 1/rate), by inversion: -log(1 - u) / rate.
  double exponential(double rate);
  // Standard normal by the Box-Muller transform; the second variate of each pair is cached.
  double normal();
  // Gamma(shape, scale) by Marsaglia and Tsang's squeeze method; shape < 1 uses the boost
  // Gamma(shape + 1) * U^(1/shape).
  double gamma(double shape, double scale);
  // Log-normal parameterised by the mean and standard deviation of the variate itself.
  double lognormal_mean_std(double mean, double std);

 private:
  std::mt19937_64 engine_;
  bool have_spare_normal_ = false;
  double spare_normal_ = 0.0;
};

}  // namespace flowkv::traces
