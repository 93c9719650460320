#include "runtime/cuda/nccl_transport.h"

#include <nccl.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "core/base/error.h"
#include "kernels/cuda_check.h"

namespace flowkv::runtime {
namespace {

ncclComm_t as_comm(void* p) { return static_cast<ncclComm_t>(p); }

std::string nccl_message(ncclResult_t r) {
  return std::string(ncclGetErrorString(r)) + " (NCCL error " + std::to_string(static_cast<int>(r)) + ")";
}

}  // namespace

std::vector<std::vector<NcclOp>> plan_nccl_groups(std::span<const core::Copy> copies, bool send,
                                                  bool recv, int peer, int max_ops) {
  FLOWKV_CHECK(send || recv, "an NCCL transfer must send, receive or both");
  const int per_copy = (send ? 1 : 0) + (recv ? 1 : 0);
  FLOWKV_CHECK(max_ops >= per_copy, "max_ops below the operations of one copy");
  std::vector<std::vector<NcclOp>> groups;
  for (const core::Copy& c : copies) {
    FLOWKV_CHECK(c.bytes >= 0 && c.src_offset >= 0 && c.dst_offset >= 0,
                 "negative copy offset or size");
    if (c.bytes == 0) continue;
    if (groups.empty() || static_cast<int>(groups.back().size()) + per_copy > max_ops) {
      groups.emplace_back();
    }
    if (send) groups.back().push_back(NcclOp{true, peer, c.src_offset, c.bytes});
    if (recv) groups.back().push_back(NcclOp{false, peer, c.dst_offset, c.bytes});
  }
  return groups;
}

int resolve_peer(int requested, int rank, int world_size) {
  FLOWKV_CHECK(world_size >= 1 && rank >= 0 && rank < world_size, "bad rank / world size");
  if (requested >= 0) {
    FLOWKV_CHECK(requested < world_size, "peer rank " + std::to_string(requested) +
                                             " outside a world of " + std::to_string(world_size));
    return requested;
  }
  if (world_size == 1) return 0;
  FLOWKV_CHECK(world_size == 2, "a transfer in a world of " + std::to_string(world_size) +
                                    " ranks must name its peer");
  return 1 - rank;
}

NcclTransport::NcclTransport(const RankInfo& info, core::Duration setup_timeout)
    : info_(info), setup_timeout_(setup_timeout), barrier_word_(sizeof(int)) {
  std::vector<std::byte> id;
  if (info_.rank == 0) id = new_unique_id();
  else id.assign(sizeof(ncclUniqueId), std::byte{0});
  init(broadcast_from_rank0(info_, id, setup_timeout_));
}

NcclTransport::NcclTransport(const RankInfo& info, std::span<const std::byte> unique_id,
                             core::Duration setup_timeout)
    : info_(info), setup_timeout_(setup_timeout), barrier_word_(sizeof(int)) {
  init(unique_id);
}

std::vector<std::byte> NcclTransport::new_unique_id() {
  setenv("NCCL_NVLS_ENABLE", "0", /*overwrite=*/0);  // before NCCL reads its environment
  ncclUniqueId id;
  std::memset(&id, 0, sizeof(id));
  FLOWKV_NCCL_CHECK(ncclGetUniqueId(&id));
  const auto* p = reinterpret_cast<const std::byte*>(&id);
  return std::vector<std::byte>(p, p + sizeof(id));
}

size_t NcclTransport::unique_id_bytes() { return sizeof(ncclUniqueId); }

void NcclTransport::init(std::span<const std::byte> blob) {
  // NVLink multicast (NVLS) stays off unless the user explicitly set it: see the header.
  setenv("NCCL_NVLS_ENABLE", "0", /*overwrite=*/0);
  ncclUniqueId id;
  if (blob.size() != sizeof(id)) {
    throw core::Error(core::ErrorKind::kRuntime, "rendezvous: NCCL unique id of " +
                                                     std::to_string(blob.size()) + " bytes, expected " +
                                                     std::to_string(sizeof(id)));
  }
  std::memcpy(&id, blob.data(), sizeof(id));
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  ncclComm_t comm = nullptr;
  const ncclResult_t r = ncclCommInitRankConfig(&comm, info_.world_size, id, info_.rank, &config);
  if (r != ncclSuccess && r != ncclInProgress) {
    throw core::Error(core::ErrorKind::kRuntime, "ncclCommInitRankConfig: " + nccl_message(r));
  }
  comm_ = comm;
  await_ready(setup_timeout_, "create the NCCL communicator");
}

NcclTransport::~NcclTransport() {
  if (!comm_) return;
  ncclComm_t comm = as_comm(comm_);
  if (broken_.empty()) {
    // Finalize (flushes outstanding operations) with a bound; abort if it does not finish.
    ncclResult_t state = ncclCommFinalize(comm);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (state == ncclInProgress && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      if (ncclCommGetAsyncError(comm, &state) != ncclSuccess) break;
    }
    if (state == ncclSuccess && ncclCommDestroy(comm) == ncclSuccess) return;
  }
  ncclCommAbort(comm);
}

void NcclTransport::await_ready(core::Duration timeout, const char* what) {
  ncclComm_t comm = as_comm(comm_);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(timeout.ns());
  for (;;) {
    ncclResult_t state = ncclSuccess;
    const ncclResult_t r = ncclCommGetAsyncError(comm, &state);
    if (r != ncclSuccess) state = r;
    if (state == ncclSuccess) return;
    if (state != ncclInProgress) {
      abort(nullptr, TransferState::kFailed, std::string("NCCL failed to ") + what + ": " + nccl_message(state));
      throw core::Error(core::ErrorKind::kRuntime, broken_);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      abort(nullptr, TransferState::kFailed,
            std::string("timed out after ") + std::to_string(timeout.millis()) + " ms waiting to " + what);
      throw core::Error(core::ErrorKind::kRuntime, broken_);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

void NcclTransport::abort(TransferRecord* culprit, TransferState culprit_state,
                          const std::string& why) {
  if (broken_.empty()) {
    broken_ = why;
    if (comm_) ncclCommAbort(as_comm(comm_));
    comm_ = nullptr;
  }
  if (culprit) {
    culprit->state = culprit_state;
    culprit->error = why;
  }
  records_.for_each_pending([&](TransferRecord& r) {
    r.state = TransferState::kFailed;
    r.error = "communicator aborted: " + why;
  });
}

TransferId NcclTransport::submit(TransferDesc desc) {
  if (!broken_.empty()) {
    throw core::Error(core::ErrorKind::kRuntime, "NCCL transport is broken: " + broken_);
  }
  const int peer = resolve_peer(desc.peer, info_.rank, info_.world_size);
  const bool send = desc.src != nullptr;
  const bool recv = desc.dst != nullptr;
  FLOWKV_CHECK(send || recv, "an NCCL transfer needs a source or a destination buffer");
  FLOWKV_CHECK(peer != info_.rank || (send && recv),
               "a loopback NCCL transfer needs both a source and a destination buffer");
  const auto groups = plan_nccl_groups(desc.copies, send, recv, peer, kMaxOpsPerGroup);
  ncclComm_t comm = as_comm(comm_);
  cudaStream_t s = stream_.get();
  TransferRecord record;
  for (const auto& group : groups) {
    FLOWKV_NCCL_CHECK(ncclGroupStart());
    for (const NcclOp& op : group) {
      ncclResult_t r;
      if (op.send) {
        r = ncclSend(desc.src + op.offset, static_cast<size_t>(op.bytes), ncclUint8, op.peer, comm, s);
      } else {
        r = ncclRecv(desc.dst + op.offset, static_cast<size_t>(op.bytes), ncclUint8, op.peer, comm, s);
      }
      if (r != ncclSuccess && r != ncclInProgress) {
        ncclGroupEnd();
        abort(nullptr, TransferState::kFailed, (op.send ? "ncclSend: " : "ncclRecv: ") + nccl_message(r));
        throw core::Error(core::ErrorKind::kRuntime, broken_);
      }
    }
    const ncclResult_t r = ncclGroupEnd();
    if (r != ncclSuccess && r != ncclInProgress) {
      abort(nullptr, TransferState::kFailed, "ncclGroupEnd: " + nccl_message(r));
      throw core::Error(core::ErrorKind::kRuntime, broken_);
    }
    await_ready(setup_timeout_, "enqueue a send/recv group");
    record.calls += static_cast<int64_t>(group.size());
  }
  record.done.record(s);
  record.work_enqueued = true;
  return records_.add(std::move(record));
}

TransferState NcclTransport::probe(TransferRecord& record) {
  if (record.state != TransferState::kPending) return record.state;
  const cudaError_t status = cudaEventQuery(record.done.get());
  if (status == cudaSuccess) {
    record.state = TransferState::kCompleted;
    return record.state;
  }
  if (status != cudaErrorNotReady) {
    cudaGetLastError();
    abort(&record, TransferState::kFailed,
          std::string("CUDA error during the transfer: ") + cudaGetErrorName(status));
    return record.state;
  }
  ncclResult_t state = ncclSuccess;
  if (comm_ && ncclCommGetAsyncError(as_comm(comm_), &state) == ncclSuccess &&
      state != ncclSuccess && state != ncclInProgress) {
    abort(&record, TransferState::kFailed, "asynchronous NCCL error: " + nccl_message(state));
  }
  return record.state;
}

TransferState NcclTransport::poll(TransferId id) { return probe(records_.get(id)); }

TransferState NcclTransport::wait(TransferId id, core::Duration timeout) {
  TransferRecord& record = records_.get(id);
  if (poll_until([&] { return probe(record); }, timeout) == TransferState::kPending) {
    abort(&record, TransferState::kTimedOut,
          "transfer not complete after " + std::to_string(timeout.millis()) + " ms");
  }
  return record.state;
}

void NcclTransport::cancel(TransferId id) {
  TransferRecord& record = records_.get(id);
  if (probe(record) == TransferState::kPending) {
    abort(&record, TransferState::kCanceled, "transfer canceled");
  }
}

std::string NcclTransport::error(TransferId id) const { return records_.get(id).error; }

void NcclTransport::release(TransferId id) {
  FLOWKV_CHECK(records_.get(id).state != TransferState::kPending, "release of a pending transfer");
  // After an abort the communicator's kernels are gone; nothing can still write the buffers.
  records_.erase(id);
}

int64_t NcclTransport::calls(TransferId id) const { return records_.get(id).calls; }

void NcclTransport::barrier(core::Duration timeout) {
  if (!broken_.empty()) {
    throw core::Error(core::ErrorKind::kRuntime, "NCCL transport is broken: " + broken_);
  }
  cudaStream_t s = stream_.get();
  const ncclResult_t r = ncclAllReduce(barrier_word_.data(), barrier_word_.data(), 1, ncclInt32,
                                       ncclSum, as_comm(comm_), s);
  if (r != ncclSuccess && r != ncclInProgress) {
    abort(nullptr, TransferState::kFailed, "ncclAllReduce (barrier): " + nccl_message(r));
    throw core::Error(core::ErrorKind::kRuntime, broken_);
  }
  await_ready(timeout, "enqueue a barrier");
  TransferRecord record;
  record.done.record(s);
  record.work_enqueued = true;
  const TransferId id = records_.add(std::move(record));
  const TransferState state = wait(id, timeout);
  const std::string why = records_.get(id).error;
  records_.erase(id);
  if (state != TransferState::kCompleted) {
    throw core::Error(core::ErrorKind::kRuntime, "barrier " + std::string(to_string(state)) + ": " + why);
  }
}

}  // namespace flowkv::runtime
