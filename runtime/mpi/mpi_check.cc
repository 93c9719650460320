#include "runtime/mpi/mpi_check.h"

#include "core/base/error.h"

namespace flowkv::runtime {

void throw_mpi_error(int code, const char* expr, const char* file, int line) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  throw core::Error(core::ErrorKind::kRuntime, std::string(file) + ":" + std::to_string(line) + ": " + expr +
                                                   ": " + std::string(text, static_cast<size_t>(length)) +
                                                   " (MPI error " + std::to_string(code) + ")");
}

}  // namespace flowkv::runtime
