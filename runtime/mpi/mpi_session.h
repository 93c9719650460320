// MpiSession: MPI for one multi-rank `flowkv live` (docs/live.md, "Across processes and hosts").
//
// Lifecycle: made once per process, after the launcher environment said so (launch_env.h).
// The constructor starts MPI with MPI_THREAD_MULTIPLE (the control-plane thread and the link
// worker both call MPI; a library that gives less is a kRuntime error), sets MPI_ERRORS_RETURN so
// that a failing call returns a code (FLOWKV_MPI_CHECK) instead of killing the job, duplicates
// two communicators (control: Work and completions; data: KV between CPU ranks, the NCCL id) and
// learns every rank's host name and pid. Every wait is non-blocking and bounded by `timeout`
// (MPI_Comm_idup, MPI_Iallgather polled with MPI_Test): a rank that never shows up is an error,
// not a hang.
//
// Ending: finalize() when every rank is answering (MPI_Finalize waits for all of them);
// leave(code) when one was lost (MPI_Finalize would wait for it forever: the process exits
// without it, which mpirun accepts with --enable-recovery); abort(code) ends the whole job
// through the launcher (MPI_Abort: mpirun kills every rank, stopped ones too, and exits with
// `code`). If none was called, the destructor aborts with code 1 (an error path must not hang).
#pragma once

#include <mpi.h>

#include <string>
#include <vector>

#include "core/base/time.h"

namespace flowkv::runtime {

class MpiSession {
 public:
  explicit MpiSession(core::Duration timeout);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  MPI_Comm control() const { return control_; }
  MPI_Comm data() const { return data_; }
  const std::string& host(int rank) const { return hosts_[static_cast<size_t>(rank)]; }
  const std::vector<std::string>& hosts() const { return hosts_; }
  int pid(int rank) const { return pids_[static_cast<size_t>(rank)]; }
  // This rank's index among the ranks on its host.
  int local_rank() const;
  // Open MPI's MPI_TAG_UB (at least 32767).
  int tag_ub() const { return tag_ub_; }

  // MPI_Finalize, bounded: if it has not returned after `timeout` (a rank died in between) the
  // process exits with `code` anyway.
  void finalize(core::Duration timeout = core::Duration::seconds(60), int code = 0);
  [[noreturn]] void leave(int code);
  [[noreturn]] void abort(int code);

 private:
  int rank_ = 0;
  int size_ = 1;
  int tag_ub_ = 32767;
  MPI_Comm control_ = MPI_COMM_NULL;
  MPI_Comm data_ = MPI_COMM_NULL;
  std::vector<std::string> hosts_;
  std::vector<int> pids_;
  bool ended_ = false;
};

// Polls `request` with MPI_Test until it completes or `timeout` passes (then throws kRuntime
// naming `what`). Sleeps in growing steps of at most 1 ms.
void wait_request(MPI_Request& request, core::Duration timeout, const std::string& what);

}  // namespace flowkv::runtime
