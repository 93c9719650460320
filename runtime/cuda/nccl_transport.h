// NcclTransport: moves a plan's copies between ranks (one process per GPU) with NCCL:
// grouped ncclSend / ncclRecv, ONE operation per planned copy, so the number of calls is the
// plan's length, as the simulator counts it.
//
// Lifecycle: the constructor is collective over all ranks of `info` (rank_info_from_env()):
// rank 0 creates the NCCL unique id and sends it to the others over TCP (rendezvous.h), then
// every rank creates a NON-blocking communicator on the current CUDA device, so no NCCL call
// can block past a deadline. NCCL_NVLS_ENABLE is set to 0 when unset (NVLink multicast can take
// a shared host's GPUs out of service). One rank per GPU: NCCL refuses two ranks on one device.
// A 1-rank world sends to itself (loopback), which runs on a single GPU.
//
// submit(): TransferDesc.src set -> this rank sends the copies' source ranges to the peer;
// TransferDesc.dst set -> it receives into the destination ranges; both -> both (loopback).
// The two sides must submit the same copy list: operations are matched in order. Groups hold
// at most kMaxOpsPerGroup operations (NCCL's documented limit is 2048), split identically on
// both sides. Connection set-up on a first transfer may take a while: submit() waits for it up
// to the set-up timeout.
//
// Failure: a pending transfer whose wait() times out, a cancel(), or an asynchronous NCCL error
// aborts the communicator (ncclCommAbort, as nccl-tests does): that transfer becomes kTimedOut
// / kCanceled / kFailed, every other pending one kFailed, and the transport is broken (later
// submits throw core::Error kRuntime). Peers see their own transfers fail or time out.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/base/time.h"
#include "runtime/cuda/cuda_handles.h"
#include "runtime/cuda/cuda_transport.h"
#include "runtime/cuda/rendezvous.h"
#include "runtime/cuda/transfer_records.h"

namespace flowkv::runtime {

inline constexpr int kMaxOpsPerGroup = 1024;

// One NCCL point-to-point operation of a plan (pure data: planned and tested without a GPU).
struct NcclOp {
  bool send = false;   // ncclSend of [offset, offset + bytes) of the source, else ncclRecv
  int peer = 0;
  int64_t offset = 0;  // into the source (send) or destination (recv) buffer
  int64_t bytes = 0;
  friend bool operator==(const NcclOp&, const NcclOp&) = default;
};

// The operations of `copies` in plan order (zero-byte copies skipped), split into groups of at
// most max_ops operations; with both send and recv (loopback) a copy's send and recv stay in
// the same group, so that no group waits on a later one.
std::vector<std::vector<NcclOp>> plan_nccl_groups(std::span<const core::Copy> copies, bool send,
                                                  bool recv, int peer, int max_ops);

// The peer of a transfer: `requested` when >= 0, else the other rank of a 2-rank world or this
// rank in a 1-rank world. Throws kInternal for a bad rank or when the peer is ambiguous.
int resolve_peer(int requested, int rank, int world_size);

class NcclTransport final : public CudaTransport {
 public:
  NcclTransport(const RankInfo& info, core::Duration setup_timeout);
  // The same over a unique id that the ranks shared by other means (multi-rank `flowkv live`
  // sends it over MPI: runtime/mpi/nccl_peer.h): `unique_id` is new_unique_id() of one rank.
  // info.master_addr / master_port are unused. Collective over the ranks of `info`.
  NcclTransport(const RankInfo& info, std::span<const std::byte> unique_id, core::Duration setup_timeout);
  // A fresh NCCL unique id (ncclGetUniqueId), as bytes.
  static std::vector<std::byte> new_unique_id();
  static size_t unique_id_bytes();
  ~NcclTransport() override;
  NcclTransport(const NcclTransport&) = delete;
  NcclTransport& operator=(const NcclTransport&) = delete;

  const char* name() const override { return "nccl"; }
  TransferId submit(TransferDesc desc) override;
  TransferState poll(TransferId id) override;
  TransferState wait(TransferId id, core::Duration timeout) override;
  void cancel(TransferId id) override;
  std::string error(TransferId id) const override;
  void release(TransferId id) override;
  int64_t calls(TransferId id) const override;
  cudaStream_t stream() const override { return stream_.get(); }

  int rank() const { return info_.rank; }
  int world_size() const { return info_.world_size; }
  // All ranks meet: an all-reduce of one integer on the stream, waited for (kRuntime error on
  // timeout or NCCL failure, after aborting the communicator).
  void barrier(core::Duration timeout);

 private:
  void init(std::span<const std::byte> unique_id);
  TransferState probe(TransferRecord& record);
  void abort(TransferRecord* culprit, TransferState culprit_state, const std::string& why);
  void await_ready(core::Duration timeout, const char* what);  // waits out ncclInProgress

  RankInfo info_;
  core::Duration setup_timeout_;
  CudaStream stream_;
  TransferRecords records_;
  void* comm_ = nullptr;        // ncclComm_t (kept opaque so this header needs no nccl.h)
  DeviceBuffer barrier_word_;   // one int for barrier()
  std::string broken_;
};

}  // namespace flowkv::runtime
