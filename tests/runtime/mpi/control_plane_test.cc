// ControlPlane between two ranks, many large messages in flight at once.
//
// Invariant protected: every message a ControlPlane sends arrives byte for byte, however many of
// its sends are still in flight. (reap_sends once moved a pending send onto itself, which frees a
// std::vector's buffer in libstdc++: MPI then sent freed memory, and rank 1 read "unknown kind"
// messages under load. Messages above Open MPI's eager limit, as here, stay pending long enough.)
//
// Run plainly (ctest), the test launches itself under `mpirun -n 2` and checks that run's exit
// code; skipped, with the reason, when mpirun is missing. Every wait has a deadline and the
// mpirun runs under `timeout`.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>

#include "runtime/mpi/control_plane.h"
#include "runtime/mpi/mpi_session.h"
#include "tests/scratch.h"

namespace flowkv::runtime {
namespace {

constexpr int kMessages = 400;
constexpr size_t kBytes = 24 << 10;  // above Open MPI's eager limits (4 KiB shared memory, 64 KiB TCP is not reached)

wire::Bytes message(uint32_t seq) {
  wire::Bytes b(kBytes);
  for (size_t i = 0; i < b.size(); ++i) b[i] = std::byte{static_cast<unsigned char>((seq * 131 + i * 7 + (i >> 8)) & 0xff)};
  for (int k = 0; k < 4; ++k) b[static_cast<size_t>(k)] = std::byte{static_cast<unsigned char>(seq >> (8 * k))};
  return b;
}

uint32_t seq_of(const wire::Bytes& b) {
  uint32_t seq = 0;
  for (int k = 0; k < 4 && static_cast<size_t>(k) < b.size(); ++k) seq |= std::to_integer<uint32_t>(b[static_cast<size_t>(k)]) << (8 * k);
  return seq;
}

bool under_mpirun() { return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr; }

// The body, on each of the 2 ranks: rank 0 sends kMessages without waiting; rank 1 checks each
// and sends it back at once; rank 0 checks the echoes.
void exchange() {
  MpiSession s(core::Duration::seconds(60));
  ASSERT_EQ(s.size(), 2);
  std::mutex mu;
  std::condition_variable cv;
  int received = 0, bad = 0;
  ControlPlane* self = nullptr;
  ControlPlane plane(
      s.control(),
      [&](int source, const wire::Bytes& m) {
        const uint32_t seq = seq_of(m);
        const bool intact = m == message(seq) && seq < kMessages;
        if (s.rank() == 1) self->send(source, m);
        std::lock_guard<std::mutex> lock(mu);
        ++received;
        bad += intact ? 0 : 1;
        cv.notify_all();
      },
      [] {}, [&](const std::string& what) { ADD_FAILURE() << "rank " << s.rank() << ": " << what; });
  self = &plane;
  if (s.rank() == 0) {
    for (uint32_t i = 0; i < kMessages; ++i) plane.send(1, message(i));
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return received == kMessages; }))
        << "rank " << s.rank() << " got " << received << " of " << kMessages;
    EXPECT_EQ(bad, 0) << "rank " << s.rank() << ": " << bad << " of " << received << " messages arrived corrupted";
  }
  MPI_Request r;
  MPI_Ibarrier(s.data(), &r);
  wait_request(r, core::Duration::seconds(60), "meet after the exchange");
  plane.stop(core::Duration::seconds(5));
  if (s.rank() == 0) {
    const ControlPlaneStats st = plane.stats();
    EXPECT_EQ(st.sent, kMessages);
    EXPECT_EQ(st.received, kMessages);
  }
  s.finalize(core::Duration::seconds(30), ::testing::Test::HasFailure() ? 1 : 0);
}

TEST(ControlPlane, ManyLargeMessagesInFlightArriveIntact) {
  if (under_mpirun()) {
    exchange();
    return;
  }
  if (std::system("command -v mpirun >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "mpirun is not installed (tools/setup.sh installs openmpi-bin)";
  }
  testing::TempDir dir("flowkv-control-plane");
  const std::string log = (dir.path() / "mpirun.log").string();
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  // As live_mpi_cli_test: root allowed, more ranks than cores, no leak check of Open MPI's own.
  const std::string cmd =
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none "
      "ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0\" timeout -k 5 120 mpirun --oversubscribe "
      "--bind-to none -n 2 " + self + " --gtest_filter=ControlPlane.ManyLargeMessagesInFlightArriveIntact >" + log +
      " 2>&1";
  const int status = std::system(cmd.c_str());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << testing::read_file(log);
}

}  // namespace
}  // namespace flowkv::runtime
