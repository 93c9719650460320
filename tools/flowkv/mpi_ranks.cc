// sim::Ranks over MPI (built only with FLOWKV_HAVE_MPI; tools/flowkv/launch.h decides when).
// Uses MPI_Init_thread (funnelled: only the command's thread calls MPI), MPI_Comm_rank/size,
// MPI_Gather of the sizes and point-to-point messages for the bytes. Rank 0 gathers every
// result; with `to_all` it sends the whole list back to each rank.
#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "core/base/error.h"
#include "sim/ranks.h"

namespace flowkv::cli {
namespace {

#define FLOWKV_MPI_CHECK(call)                                                                       \
  do {                                                                                             \
    const int flowkv_mpi_rc = (call);                                                              \
    if (flowkv_mpi_rc != MPI_SUCCESS) {                                                            \
      char flowkv_mpi_msg[MPI_MAX_ERROR_STRING];                                                   \
      int flowkv_mpi_len = 0;                                                                      \
      MPI_Error_string(flowkv_mpi_rc, flowkv_mpi_msg, &flowkv_mpi_len);                            \
      throw ::flowkv::core::Error(::flowkv::core::ErrorKind::kRuntime,                             \
                                  std::string(__FILE__) + ":" + std::to_string(__LINE__) + ": " #call \
                                  ": " + std::string(flowkv_mpi_msg, flowkv_mpi_len));              \
    }                                                                                              \
  } while (0)

constexpr int kTag = 7117;

// Messages longer than an int counts are cut into pieces.
constexpr uint64_t kPiece = uint64_t{1} << 30;

void send_bytes(const std::string& s, int to) {
  const uint64_t n = s.size();
  FLOWKV_MPI_CHECK(MPI_Send(&n, 1, MPI_UINT64_T, to, kTag, MPI_COMM_WORLD));
  for (uint64_t at = 0; at < n; at += kPiece) {
    const int len = static_cast<int>(std::min(kPiece, n - at));
    FLOWKV_MPI_CHECK(MPI_Send(s.data() + at, len, MPI_CHAR, to, kTag, MPI_COMM_WORLD));
  }
}

std::string recv_bytes(int from) {
  uint64_t n = 0;
  FLOWKV_MPI_CHECK(MPI_Recv(&n, 1, MPI_UINT64_T, from, kTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
  std::string s(n, '\0');
  for (uint64_t at = 0; at < n; at += kPiece) {
    const int len = static_cast<int>(std::min(kPiece, n - at));
    FLOWKV_MPI_CHECK(MPI_Recv(s.data() + at, len, MPI_CHAR, from, kTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
  }
  return s;
}

class MpiRanks final : public sim::Ranks {
 public:
  MpiRanks() {
    int provided = 0;
    FLOWKV_MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided));
    if (provided < MPI_THREAD_FUNNELED) {
      throw core::Error(core::ErrorKind::kUnsupported, "MPI does not provide MPI_THREAD_FUNNELED");
    }
    FLOWKV_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
    FLOWKV_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size_));
  }
  ~MpiRanks() override { MPI_Finalize(); }

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  std::vector<std::string> exchange(size_t n, std::vector<std::string> mine, bool to_all) override {
    // Every rank says how many results it brings, so a mismatch is an error, not a hang.
    const int64_t count = static_cast<int64_t>(mine.size());
    std::vector<int64_t> counts(static_cast<size_t>(size_));
    FLOWKV_MPI_CHECK(MPI_Gather(&count, 1, MPI_INT64_T, counts.data(), 1, MPI_INT64_T, 0, MPI_COMM_WORLD));
    std::vector<std::string> all;
    if (rank_ == 0) {
      all.resize(n);
      for (int r = 0; r < size_; ++r) {
        size_t expected = 0;
        for (size_t i = static_cast<size_t>(r); i < n; i += static_cast<size_t>(size_)) ++expected;
        FLOWKV_CHECK(counts[static_cast<size_t>(r)] == static_cast<int64_t>(expected),
                     "rank " + std::to_string(r) + " brought " + std::to_string(counts[static_cast<size_t>(r)]) +
                         " results, expected " + std::to_string(expected));
        size_t k = 0;
        for (size_t i = static_cast<size_t>(r); i < n; i += static_cast<size_t>(size_), ++k) {
          all[i] = r == 0 ? std::move(mine[k]) : recv_bytes(r);
        }
      }
      if (to_all) {
        for (int r = 1; r < size_; ++r) {
          for (const std::string& s : all) send_bytes(s, r);
        }
      }
      return all;
    }
    for (const std::string& s : mine) send_bytes(s, 0);
    if (!to_all) return {};
    all.resize(n);
    for (size_t i = 0; i < n; ++i) all[i] = recv_bytes(0);
    return all;
  }

 private:
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace

std::unique_ptr<sim::Ranks> start_mpi_ranks() { return std::make_unique<MpiRanks>(); }

void mpi_abort(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::abort();
}

}  // namespace flowkv::cli
