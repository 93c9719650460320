// FLOWKV_MPI_CHECK: the one check macro for MPI calls (communicators use MPI_ERRORS_RETURN, so a
// failing call returns its code instead of aborting the job). Throws core::Error(kRuntime) with
// the file, line, the expression and MPI's own message.
#pragma once

#include <mpi.h>

#include <string>

namespace flowkv::runtime {

[[noreturn]] void throw_mpi_error(int code, const char* expr, const char* file, int line);

}  // namespace flowkv::runtime

#define FLOWKV_MPI_CHECK(expr)                                                   \
  do {                                                                           \
    const int flowkv_mpi_rc_ = (expr);                                           \
    if (flowkv_mpi_rc_ != MPI_SUCCESS) {                                         \
      ::flowkv::runtime::throw_mpi_error(flowkv_mpi_rc_, #expr, __FILE__, __LINE__); \
    }                                                                            \
  } while (0)
