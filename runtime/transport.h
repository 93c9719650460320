// Transport: moves the copies of a transfer plan (core::Copy: src offset, dst offset, bytes)
// from a source buffer to a destination buffer. One interface, submit then completion, the
// shape of NCCL's net plugin (isend/irecv/test) and Mooncake's submitTransfer/getTransferStatus:
//
//   TransferId id = transport.submit({src, dst, copies});   // enqueues, returns at once
//   TransferState s = transport.wait(id, Duration::seconds(5));  // or poll(id)
//   transport.release(id);                                  // forget a finished transfer
//
// States: kPending until the device work is done; then kCompleted, or kFailed (a CUDA/NCCL
// error; error(id) says which). wait() never blocks longer than its timeout: a transfer still
// pending then becomes kTimedOut. cancel() makes a pending transfer kCanceled. kTimedOut and
// kCanceled are final, and the destination bytes of such a transfer are unspecified; what
// happens to work already on the device is each implementation's (see its header).
//
// Threading: one transport is used from one thread. Submitting to a transport whose device or
// communicator has failed throws core::Error(kRuntime). Bad arguments (a null buffer, a
// negative size) throw core::Error(kInternal): they are the caller's bug, not user input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/base/time.h"
#include "core/kv/transfer_plan.h"

namespace flowkv::runtime {

enum class TransferId : uint64_t {};

enum class TransferState { kPending, kCompleted, kFailed, kCanceled, kTimedOut };
const char* to_string(TransferState state);
inline bool is_final(TransferState s) { return s != TransferState::kPending; }

struct TransferDesc {
  // Memory the copies' src_offset index (the sending side): device memory for the CUDA
  // transports, host memory for HostCopyTransport. A pure receiver of a two-rank transport
  // leaves it null.
  const std::byte* src = nullptr;
  // Memory the copies' dst_offset index (the receiving side). A pure sender leaves it null.
  std::byte* dst = nullptr;
  std::vector<core::Copy> copies;
  // For transports between ranks: the other rank; -1 means the only other rank of a 2-rank
  // world (or this rank itself in a 1-rank world). Ignored by DeviceCopyTransport.
  int peer = -1;
  // For transports between ranks that tag messages (MpiTransport): tells this transfer's
  // messages from those of an earlier one that failed half-way. Both sides give the same tag
  // (the live backend gives the WorkId). Ignored by the others.
  uint64_t tag = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual const char* name() const = 0;

  virtual TransferId submit(TransferDesc desc) = 0;
  // Non-blocking look at the state.
  virtual TransferState poll(TransferId id) = 0;
  // Polls until the transfer is final or `timeout` has passed (then kTimedOut).
  virtual TransferState wait(TransferId id, core::Duration timeout) = 0;
  // A pending transfer becomes kCanceled; a final one is left as it is.
  virtual void cancel(TransferId id) = 0;
  // Why a transfer is kFailed / kTimedOut / kCanceled ("" otherwise).
  virtual std::string error(TransferId id) const = 0;
  // Forgets a final transfer (kInternal error when it is still pending or unknown).
  virtual void release(TransferId id) = 0;
  // Calls issued for the transfer: memcpy calls, cudaMemcpyAsync calls, kernel launches, or
  // NCCL send/recv operations. What the simulator's per-call cost multiplies.
  virtual int64_t calls(TransferId id) const = 0;
};

// Calls `probe` until it returns a final state or `timeout` has passed since the call; returns
// the last state (kPending when the deadline passed). Spins (yielding) for the first tens of
// microseconds, then sleeps in growing steps of at most 1 ms: short transfers are seen
// promptly, long ones do not burn a core.
TransferState poll_until(const std::function<TransferState()>& probe, core::Duration timeout);

}  // namespace flowkv::runtime
