// MpiTransport: a Transport between CPU ranks (KV pools in host memory of two processes, on
// one host or several) over MPI point-to-point on the session's data communicator.
//
// submit(): TransferDesc.src set -> MPI_Isend of each planned copy's source range to
// desc.peer; dst set -> MPI_Irecv of each copy into its destination range (one message per copy,
// so the number of calls is the plan's length, as with NCCL; a copy over 1 GiB is cut into
// 1 GiB messages the same way on both sides). Both sides must submit the same copy list with the
// same desc.tag (the WorkId): the MPI tag derived from it keeps the messages of a transfer that
// failed half-way from matching a later one. A loopback (src and dst, peer = this rank) is
// refused: within a rank, HostCopyTransport moves KV.
//
// poll() tests the requests (MPI_Testsome), and keeps testing while they complete and for
// 100 us after (MPI progresses only inside MPI calls: a many-copy transfer is not paced by the
// caller's sleeps); wait() polls until final or the timeout (then kTimedOut: the requests are
// canceled). cancel(): MPI_Cancel + MPI_Request_free of every
// pending request; the transfer is kCanceled. A receive that had already matched may still
// complete afterwards (MPI cannot cancel it): its destination bytes are unspecified, as the
// Transport contract says; a send's buffer must stay alive (the pool does). An MPI error fails
// the transfer (kFailed, the MPI message).
//
// Threading: one thread (Transport's rule); MPI must run with MPI_THREAD_MULTIPLE (MpiSession).
#pragma once

#include <mpi.h>

#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/transport.h"

namespace flowkv::runtime {

inline constexpr int64_t kMpiMaxMessageBytes = int64_t{1} << 30;

class MpiTransport final : public Transport {
 public:
  // `comm` must outlive the transport; `tag_ub`: the communicator's MPI_TAG_UB.
  MpiTransport(MPI_Comm comm, int tag_ub);
  ~MpiTransport() override;
  const char* name() const override { return "mpi"; }
  TransferId submit(TransferDesc desc) override;
  TransferState poll(TransferId id) override;
  TransferState wait(TransferId id, core::Duration timeout) override;
  void cancel(TransferId id) override;
  std::string error(TransferId id) const override;
  void release(TransferId id) override;
  int64_t calls(TransferId id) const override;

  // The MPI tag of a transfer tag (1 .. tag_ub; 0 is left for other uses of the communicator).
  static int mpi_tag(uint64_t tag, int tag_ub);

 private:
  struct Record {
    std::vector<MPI_Request> requests;
    TransferState state = TransferState::kPending;
    std::string error;
    int64_t calls = 0;
  };
  Record& record(TransferId id);
  const Record& record(TransferId id) const;
  void abandon(Record& r, TransferState state, const std::string& why);

  MPI_Comm comm_;
  int tag_ub_;
  int rank_ = 0;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, Record> transfers_;
};

}  // namespace flowkv::runtime
