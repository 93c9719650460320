#include "runtime/live/launch_env.h"

#include <cstdlib>

namespace flowkv::runtime {
namespace {

int as_int(const char* text, int fallback) {
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  return (*end == '\0' && v >= 0 && v < (1 << 24)) ? static_cast<int>(v) : fallback;
}

}  // namespace

LaunchEnv read_launch_env(const std::function<const char*(const char*)>& getenv) {
  LaunchEnv e;
  if (const char* size = getenv("OMPI_COMM_WORLD_SIZE")) {
    e.launcher = "mpirun";
    e.world_size = as_int(size, 1);
    e.rank = as_int(getenv("OMPI_COMM_WORLD_RANK"), 0);
  } else if (getenv("SLURM_STEP_ID") != nullptr && getenv("SLURM_NTASKS") != nullptr) {
    e.launcher = "srun";
    e.world_size = as_int(getenv("SLURM_NTASKS"), 1);
    e.rank = as_int(getenv("SLURM_PROCID"), 0);
  } else if (const char* size = getenv("PMI_SIZE")) {
    e.launcher = "pmi";
    e.world_size = as_int(size, 1);
    e.rank = as_int(getenv("PMI_RANK"), 0);
  } else if (getenv("PMIX_RANK") != nullptr) {
    e.launcher = "pmi";
    e.world_size = 2;  // PMIx names no size; MPI will tell
    e.rank = as_int(getenv("PMIX_RANK"), 0);
  }
  const char* recovery = getenv("OMPI_MCA_orte_enable_recovery");
  e.recovery = recovery != nullptr && (std::string(recovery) == "1" || std::string(recovery) == "true");
  return e;
}

LaunchEnv read_launch_env() {
  return read_launch_env([](const char* name) { return std::getenv(name); });
}

}  // namespace flowkv::runtime
