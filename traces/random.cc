#include "traces/random.h"

#include <cmath>
#include <numbers>

namespace flowkv::traces {

int64_t Rng::uniform_int(int64_t lo, int64_t hi) {
  const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) + 1;
  if (span == 0) return static_cast<int64_t>(engine_());  // the full 64-bit range
  // Rejection removes the modulo bias; the loop almost never repeats for the spans we use.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % span;
  uint64_t x = engine_();
  while (x >= limit) x = engine_();
  return lo + static_cast<int64_t>(x % span);
}

double Rng::exponential(double rate) { return -std::log1p(-uniform01()) / rate; }

double Rng::normal() {
  if (have_spare_normal_) {
    have_spare_normal_ = false;
    return spare_normal_;
  }
  // u1 in (0, 1] so that log(u1) is finite.
  const double u1 = 1.0 - uniform01();
  const double u2 = uniform01();
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 2.0 * std::numbers::pi * u2;
  spare_normal_ = radius * std::sin(angle);
  have_spare_normal_ = true;
  return radius * std::cos(angle);
}

double Rng::gamma(double shape, double scale) {
  if (shape < 1.0) {
    const double u = 1.0 - uniform01();  // (0, 1]
    return gamma(shape + 1.0, scale) * std::pow(u, 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x = 0.0;
    double v = 0.0;
    do {
      x = normal();
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = 1.0 - uniform01();  // (0, 1]
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v * scale;
    if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v * scale;
  }
}

double Rng::lognormal_mean_std(double mean, double std) {
  // For X = exp(mu + sigma Z): E[X] = exp(mu + sigma^2/2), Var[X] = (exp(sigma^2) - 1) E[X]^2.
  const double sigma2 = std::log1p((std / mean) * (std / mean));
  const double mu = std::log(mean) - 0.5 * sigma2;
  return std::exp(mu + std::sqrt(sigma2) * normal());
}

}  // namespace flowkv::traces
