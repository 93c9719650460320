// Bookkeeping shared by the transports: the table of submitted transfers keyed by TransferId,
// and the deadline-bounded polling loop of wait(). Internal to runtime/.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>

#include "core/base/time.h"
#include "runtime/cuda/cuda_handles.h"
#include "runtime/transport.h"

namespace flowkv::runtime {

struct TransferRecord {
  TransferState state = TransferState::kPending;
  std::string error;
  int64_t calls = 0;
  CudaEvent done;  // recorded on the transport's stream after the transfer's last operation
  bool work_enqueued = false;  // whether `done` was recorded (false if submission failed midway)
  int staging_slot = -1;       // host staging buffer the transport lent this transfer, if any
};

class TransferRecords {
 public:
  TransferId add(TransferRecord record);
  TransferRecord& get(TransferId id);  // kInternal error for an unknown id
  const TransferRecord& get(TransferId id) const;
  void erase(TransferId id);
  // Calls fn on every pending record.
  void for_each_pending(const std::function<void(TransferRecord&)>& fn);

 private:
  std::unordered_map<uint64_t, TransferRecord> records_;
  uint64_t next_id_ = 1;
};

}  // namespace flowkv::runtime
