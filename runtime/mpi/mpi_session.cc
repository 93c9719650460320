#include "runtime/mpi/mpi_session.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "core/base/error.h"
#include "runtime/mpi/mpi_check.h"

namespace flowkv::runtime {

using Clock = std::chrono::steady_clock;

void wait_request(MPI_Request& request, core::Duration timeout, const std::string& what) {
  const auto deadline = Clock::now() + std::chrono::nanoseconds(timeout.ns());
  auto sleep = std::chrono::microseconds(10);
  for (;;) {
    int done = 0;
    FLOWKV_MPI_CHECK(MPI_Test(&request, &done, MPI_STATUS_IGNORE));
    if (done) return;
    if (Clock::now() >= deadline) {
      throw core::Error(core::ErrorKind::kRuntime, std::string("MPI: timed out after ") +
                                                       std::to_string(timeout.seconds()) + " s waiting to " + what);
    }
    std::this_thread::sleep_for(sleep);
    sleep = std::min<std::chrono::microseconds>(sleep * 2, std::chrono::microseconds(1000));
  }
}

MpiSession::MpiSession(core::Duration timeout) {
  int provided = MPI_THREAD_SINGLE;
  int argc = 0;
  char** argv = nullptr;
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS) {
    throw core::Error(core::ErrorKind::kRuntime, "MPI_Init_thread failed");
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  if (provided < MPI_THREAD_MULTIPLE) {
    ended_ = true;
    MPI_Finalize();
    throw core::Error(core::ErrorKind::kRuntime,
                      "the MPI library gives no MPI_THREAD_MULTIPLE (Debian's Open MPI does): the live control "
                      "plane needs it");
  }
  FLOWKV_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
  FLOWKV_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size_));
  void* ub = nullptr;
  int found = 0;
  if (MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &ub, &found) == MPI_SUCCESS && found) {
    tag_ub_ = *static_cast<int*>(ub);
  }
  MPI_Request r;
  FLOWKV_MPI_CHECK(MPI_Comm_idup(MPI_COMM_WORLD, &control_, &r));
  wait_request(r, timeout, "duplicate the control communicator (a rank did not start?)");
  FLOWKV_MPI_CHECK(MPI_Comm_idup(MPI_COMM_WORLD, &data_, &r));
  wait_request(r, timeout, "duplicate the data communicator");
  MPI_Comm_set_errhandler(control_, MPI_ERRORS_RETURN);
  MPI_Comm_set_errhandler(data_, MPI_ERRORS_RETURN);

  struct Me {
    char host[256];
    int pid;
  } me{}, *all = nullptr;
  std::vector<Me> everyone(static_cast<size_t>(size_));
  all = everyone.data();
  gethostname(me.host, sizeof me.host - 1);
  me.pid = static_cast<int>(getpid());
  FLOWKV_MPI_CHECK(MPI_Iallgather(&me, sizeof me, MPI_BYTE, all, sizeof me, MPI_BYTE, control_, &r));
  wait_request(r, timeout, "learn every rank's host name");
  for (const Me& m : everyone) {
    hosts_.emplace_back(m.host, strnlen(m.host, sizeof m.host));
    pids_.push_back(m.pid);
  }
}

MpiSession::~MpiSession() {
  if (!ended_) abort(1);
}

int MpiSession::local_rank() const {
  int local = 0;
  for (int r = 0; r < rank_; ++r) local += hosts_[static_cast<size_t>(r)] == hosts_[static_cast<size_t>(rank_)] ? 1 : 0;
  return local;
}

void MpiSession::finalize(core::Duration timeout, int code) {
  if (ended_) return;
  ended_ = true;
  const int rank = rank_;
  std::thread([timeout, code, rank] {
    std::this_thread::sleep_for(std::chrono::nanoseconds(timeout.ns()));
    std::fprintf(stderr, "live (rank %d): MPI_Finalize did not return within %.0f s (a rank lost at the end?); exiting\n",
                 rank, timeout.seconds());
    std::fflush(stderr);
    ::_exit(code);
  }).detach();
  if (control_ != MPI_COMM_NULL) MPI_Comm_free(&control_);
  if (data_ != MPI_COMM_NULL) MPI_Comm_free(&data_);
  MPI_Finalize();
}

void MpiSession::leave(int code) {
  ended_ = true;
  std::fflush(stdout);
  std::fflush(stderr);
  ::_exit(code);
}

void MpiSession::abort(int code) {
  ended_ = true;
  std::fflush(stdout);
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, code);
  ::_exit(code);
}

}  // namespace flowkv::runtime
