#include "runtime/transfer_records.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "core/base/error.h"

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

TransferId TransferRecords::add(TransferRecord record) {
  const uint64_t id = next_id_++;
  records_.emplace(id, std::move(record));
  return TransferId{id};
}

TransferRecord& TransferRecords::get(TransferId id) {
  auto it = records_.find(static_cast<uint64_t>(id));
  FLOWKV_CHECK(it != records_.end(),
               "unknown transfer id " + std::to_string(static_cast<uint64_t>(id)));
  return it->second;
}

const TransferRecord& TransferRecords::get(TransferId id) const {
  auto it = records_.find(static_cast<uint64_t>(id));
  FLOWKV_CHECK(it != records_.end(),
               "unknown transfer id " + std::to_string(static_cast<uint64_t>(id)));
  return it->second;
}

void TransferRecords::erase(TransferId id) { records_.erase(static_cast<uint64_t>(id)); }

void TransferRecords::for_each_pending(const std::function<void(TransferRecord&)>& fn) {
  for (auto& [id, record] : records_) {
    if (record.state == TransferState::kPending) fn(record);
  }
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
