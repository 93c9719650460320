#include "runtime/cuda/transfer_records.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "core/base/error.h"

namespace flowkv::runtime {

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

}  // namespace flowkv::runtime
