// The processes a `flowkv plan` or `flowkv sweep` runs on: this one, or every rank of an MPI
// launch (mpirun / srun), told from the environment.
//
//   - built with MPI (FLOWKV_HAVE_MPI) and launched by mpirun or srun: MPI_Init_thread, one rank
//     per process (tools/flowkv/mpi_ranks.cc); the command's results are those of one process;
//   - not launched by an MPI launcher: one process, MPI never initialised (as a singleton);
//   - built without MPI but launched as several ranks (OMPI_COMM_WORLD_SIZE, PMI_SIZE or
//     SLURM_NTASKS > 1): refused with exit code 2, since each rank would run everything.
#pragma once

#include <functional>
#include <memory>

#include "sim/ranks.h"

namespace flowkv::cli {

// How many ranks the environment says this process was launched as (1 when none).
int launched_ranks();

std::unique_ptr<sim::Ranks> start_ranks(const char* command);

// Runs `body` on `ranks`. With several ranks an error ends them all (MPI_Abort with the error's
// exit code), so that none waits for one that is gone: rank 0 prints it; another rank prints
// its own only when it is not bad input (which every rank validates alike, so rank 0 says it)
// or when rank 0 has not ended the run within two seconds.
int run_ranked(sim::Ranks& ranks, const char* command, const std::function<int()>& body);

}  // namespace flowkv::cli
