#include "kernels/cuda_check.h"

#include <string>

#include "core/base/error.h"

namespace flowkv::kernels {

void throw_cuda_error(cudaError_t status, const char* expression, const char* file, int line) {
  throw core::Error(core::ErrorKind::kRuntime,
                    std::string(file) + ":" + std::to_string(line) + ": CUDA call failed: " +
                        expression + ": " + cudaGetErrorName(status) + " (" +
                        cudaGetErrorString(status) + ")");
}

void throw_nccl_error(int status, const char* library_message, const char* expression,
                      const char* file, int line) {
  throw core::Error(core::ErrorKind::kRuntime,
                    std::string(file) + ":" + std::to_string(line) + ": NCCL call failed: " +
                        expression + ": error " + std::to_string(status) + " (" +
                        (library_message ? library_message : "no message") + ")");
}

void throw_cublas_error(int status, const char* status_name, const char* library_message,
                        const char* expression, const char* file, int line) {
  throw core::Error(core::ErrorKind::kRuntime,
                    std::string(file) + ":" + std::to_string(line) + ": cuBLAS call failed: " +
                        expression + ": " + (status_name ? status_name : "?") + " (status " +
                        std::to_string(status) + ": " +
                        (library_message ? library_message : "no message") + ")");
}

}  // namespace flowkv::kernels
