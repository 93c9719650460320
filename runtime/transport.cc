#include "runtime/transport.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace flowkv::runtime {

const char* to_string(TransferState state) {
  switch (state) {
    case TransferState::kPending:
      return "pending";
    case TransferState::kCompleted:
      return "completed";
    case TransferState::kFailed:
      return "failed";
    case TransferState::kCanceled:
      return "canceled";
    case TransferState::kTimedOut:
      return "timed-out";
  }
  return "unknown";
}

TransferState poll_until(const std::function<TransferState()>& probe, core::Duration timeout) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::nanoseconds(std::max<int64_t>(timeout.ns(), 0));
  auto sleep = std::chrono::microseconds(10);
  for (;;) {
    const TransferState s = probe();
    if (is_final(s)) return s;
    const auto now = Clock::now();
    if (now >= deadline) return s;
    if (now - start < std::chrono::microseconds(50)) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::min<Clock::duration>(sleep, deadline - now));
      sleep = std::min<std::chrono::microseconds>(sleep * 2, std::chrono::microseconds(1000));
    }
  }
}

}  // namespace flowkv::runtime
