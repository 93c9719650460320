#include "tools/flowkv/launch.h"

#include <chrono>
#include <cstdio>
#include <thread>
#include <cstdlib>
#include <string>

#include "core/base/error.h"

namespace flowkv::cli {

#if FLOWKV_CLI_MPI
std::unique_ptr<sim::Ranks> start_mpi_ranks();  // mpi_ranks.cc
[[noreturn]] void mpi_abort(int code);
#endif

int launched_ranks() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS"}) {
    if (const char* v = std::getenv(var)) {
      const int n = std::atoi(v);
      if (n >= 1) return n;
    }
  }
  return 1;
}

namespace {

bool under_launcher() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK"}) {
    if (std::getenv(var) != nullptr) return true;
  }
  return false;
}

}  // namespace

std::unique_ptr<sim::Ranks> start_ranks(const char* command) {
#if FLOWKV_CLI_MPI
  if (under_launcher()) return start_mpi_ranks();
#else
  (void)under_launcher;
  if (launched_ranks() > 1) {
    throw core::Error(core::ErrorKind::kUnsupported,
                      std::string("flowkv ") + command + " was launched as " + std::to_string(launched_ranks()) +
                          " ranks (mpirun/srun), but this build has no MPI (FLOWKV_HAVE_MPI is off), so every "
                          "rank would run the whole search: run one process, or rebuild with MPI "
                          "(apt-get install libopenmpi-dev openmpi-bin; cmake -DFLOWKV_MPI=ON)");
  }
#endif
  return std::make_unique<sim::LocalRanks>();
}

int run_ranked(sim::Ranks& ranks, const char* command, const std::function<int()>& body) {
  if (ranks.size() == 1) return body();
#if FLOWKV_CLI_MPI
  std::string message;
  int code = 1;
  try {
    return body();
  } catch (const core::Error& e) {
    message = std::string("error: ") + e.what();
    code = e.exit_code();
  } catch (const std::exception& e) {
    message = std::string("internal error: ") + e.what();
  }
  if (!ranks.root() && code == 2) std::this_thread::sleep_for(std::chrono::seconds(2));
  if (ranks.root()) {
    std::fprintf(stderr, "flowkv %s: %s\n", command, message.c_str());
  } else {
    std::fprintf(stderr, "flowkv %s (rank %d): %s\n", command, ranks.rank(), message.c_str());
  }
  std::fflush(stderr);
  mpi_abort(code);
#else
  (void)command;
  return body();
#endif
}

}  // namespace flowkv::cli
