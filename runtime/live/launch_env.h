// What the environment says about how this process was launched: by mpirun (Open MPI sets
// OMPI_COMM_WORLD_SIZE / _RANK), by srun (SLURM_NTASKS / SLURM_PROCID inside a job step), or by
// another PMI launcher (PMI_SIZE / PMI_RANK, PMIX_RANK). Read before MPI starts (so a build
// without MPI can say that a multi-rank launch will not work, and a build with MPI starts MPI
// only when launched so). Pure: `getenv` is injectable for tests.
#pragma once

#include <functional>
#include <string>

namespace flowkv::runtime {

struct LaunchEnv {
  int world_size = 1;     // 1 when no launcher variable says otherwise
  int rank = 0;
  std::string launcher;   // "mpirun", "srun", "pmi" or "" (none)
  bool recovery = false;  // mpirun --enable-recovery (OMPI_MCA_orte_enable_recovery=1)
};

LaunchEnv read_launch_env(const std::function<const char*(const char*)>& getenv);
LaunchEnv read_launch_env();

}  // namespace flowkv::runtime
