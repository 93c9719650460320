// HostCopyTransport: a Transport between two buffers in host memory (the KV pools of CPU nodes
// in one process), one std::memcpy per planned copy, so a per-block plan costs its calls for
// real.
//
// Synchronous: submit() copies everything before it returns, so a transfer is kCompleted (or
// kFailed: never, host copies cannot fail) as soon as it has an id; poll() and wait() only
// report that, and cancel() of a finished transfer changes nothing. calls(id) = the copies.
// Bad arguments (a null buffer with copies to make, a negative offset or size, a source and a
// destination range that overlap, an unknown or released id) are kInternal errors: the caller's
// bug. Threading: one thread per transport (Transport's rule); the device makes one per
// transfer worker.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "runtime/transport.h"

namespace flowkv::runtime {

class HostCopyTransport final : public Transport {
 public:
  const char* name() const override { return "host-copy"; }
  TransferId submit(TransferDesc desc) override;
  TransferState poll(TransferId id) override;
  TransferState wait(TransferId id, core::Duration timeout) override;
  void cancel(TransferId id) override;
  std::string error(TransferId id) const override;
  void release(TransferId id) override;
  int64_t calls(TransferId id) const override;

  // Transfers submitted and not yet released.
  int64_t live_transfers() const { return static_cast<int64_t>(transfers_.size()); }

 private:
  struct Record {
    TransferState state = TransferState::kCompleted;
    int64_t calls = 0;
  };
  const Record& record(TransferId id) const;

  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, Record> transfers_;
};

}  // namespace flowkv::runtime
