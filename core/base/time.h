// Time and Duration: integer nanoseconds in strong types.
//
// Virtual time in the simulator, steady-clock time in the runtime. There is no double
// "seconds" in state: conversions to double exist only for reporting (seconds(), millis()).
// Arithmetic is restricted to what means something: Time + Duration, Time - Time -> Duration,
// Duration +- Duration, Duration * integer.
#pragma once

#include <cstdint>
#include <compare>
#include <limits>

namespace flowkv::core {

class Duration {
 public:
  constexpr Duration() = default;
  static constexpr Duration nanos(int64_t ns) { return Duration(ns); }
  static constexpr Duration micros(int64_t us) { return Duration(us * 1'000); }
  static constexpr Duration millis(int64_t ms) { return Duration(ms * 1'000'000); }
  static constexpr Duration seconds(int64_t s) { return Duration(s * 1'000'000'000); }
  // Rounds to the nearest nanosecond; for converting measured or modelled costs.
  static constexpr Duration from_seconds(double s) {
    const double ns = s * 1e9;
    return Duration(static_cast<int64_t>(ns >= 0 ? ns + 0.5 : ns - 0.5));
  }
  static constexpr Duration zero() { return Duration(0); }
  static constexpr Duration max() { return Duration(std::numeric_limits<int64_t>::max()); }

  constexpr int64_t ns() const { return ns_; }
  constexpr double seconds() const { return static_cast<double>(ns_) / 1e9; }  // division: whole seconds stay exact
  constexpr double millis() const { return static_cast<double>(ns_) * 1e-6; }

  constexpr auto operator<=>(const Duration&) const = default;
  constexpr Duration operator+(Duration o) const { return Duration(ns_ + o.ns_); }
  constexpr Duration operator-(Duration o) const { return Duration(ns_ - o.ns_); }
  constexpr Duration operator*(int64_t k) const { return Duration(ns_ * k); }
  constexpr Duration operator/(int64_t k) const { return Duration(ns_ / k); }
  constexpr Duration& operator+=(Duration o) { ns_ += o.ns_; return *this; }
  constexpr Duration& operator-=(Duration o) { ns_ -= o.ns_; return *this; }

 private:
  constexpr explicit Duration(int64_t ns) : ns_(ns) {}
  int64_t ns_ = 0;
};

class Time {
 public:
  constexpr Time() = default;
  static constexpr Time from_nanos(int64_t ns) { return Time(ns); }
  static constexpr Time zero() { return Time(0); }
  static constexpr Time max() { return Time(std::numeric_limits<int64_t>::max()); }

  constexpr int64_t ns() const { return ns_; }
  constexpr double seconds() const { return static_cast<double>(ns_) / 1e9; }  // division: whole seconds stay exact
  // Time since the epoch of this clock (zero), as a Duration.
  constexpr Duration since_start() const { return Duration::nanos(ns_); }

  constexpr auto operator<=>(const Time&) const = default;
  constexpr Time operator+(Duration d) const { return Time(ns_ + d.ns()); }
  constexpr Time operator-(Duration d) const { return Time(ns_ - d.ns()); }
  constexpr Duration operator-(Time o) const { return Duration::nanos(ns_ - o.ns_); }
  constexpr Time& operator+=(Duration d) { ns_ += d.ns(); return *this; }

 private:
  constexpr explicit Time(int64_t ns) : ns_(ns) {}
  int64_t ns_ = 0;
};

}  // namespace flowkv::core
