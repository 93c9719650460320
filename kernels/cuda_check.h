// FLOWKV_CUDA_CHECK / FLOWKV_NCCL_CHECK: every CUDA runtime and NCCL call goes through one of
// these, so that a failure names the file, the line, the expression and the library's own
// message, and reaches the user as one core::Error of kind kRuntime (exit code 1).
//
// FLOWKV_NCCL_CHECK expands to ncclGetErrorString / ncclSuccess: include <nccl.h> where it is
// used (this header does not, so that kernel code needs no NCCL).
// FLOWKV_CUBLAS_CHECK expands to cublasLtGetStatusName / cublasLtGetStatusString: include
// <cublasLt.h> where it is used.
// FLOWKV_CUDA_CHECK_LAUNCH() goes right after a kernel launch: launch failures (bad grid,
// too much shared memory, no kernel image for the device) surface only through
// cudaGetLastError().
#pragma once

#include <cuda_runtime_api.h>

namespace flowkv::kernels {

[[noreturn]] void throw_cuda_error(cudaError_t status, const char* expression, const char* file,
                                   int line);
// The NCCL variant takes the already-formatted library message so this file needs no NCCL.
[[noreturn]] void throw_nccl_error(int status, const char* library_message, const char* expression,
                                   const char* file, int line);

// The cuBLAS variant takes the status name and message already formatted, likewise.
[[noreturn]] void throw_cublas_error(int status, const char* status_name, const char* library_message,
                                     const char* expression, const char* file, int line);

}  // namespace flowkv::kernels

#define FLOWKV_CUDA_CHECK(expr)                                                         \
  do {                                                                                  \
    const cudaError_t flowkv_cuda_status_ = (expr);                                     \
    if (flowkv_cuda_status_ != cudaSuccess) {                                           \
      ::flowkv::kernels::throw_cuda_error(flowkv_cuda_status_, #expr, __FILE__, __LINE__); \
    }                                                                                   \
  } while (0)

#define FLOWKV_CUDA_CHECK_LAUNCH() FLOWKV_CUDA_CHECK(cudaGetLastError())

#define FLOWKV_NCCL_CHECK(expr)                                                          \
  do {                                                                                   \
    const ncclResult_t flowkv_nccl_status_ = (expr);                                     \
    if (flowkv_nccl_status_ != ncclSuccess) {                                            \
      ::flowkv::kernels::throw_nccl_error(static_cast<int>(flowkv_nccl_status_),         \
                                          ncclGetErrorString(flowkv_nccl_status_), #expr, \
                                          __FILE__, __LINE__);                           \
    }                                                                                    \
  } while (0)

#define FLOWKV_CUBLAS_CHECK(expr)                                                          \
  do {                                                                                     \
    const cublasStatus_t flowkv_cublas_status_ = (expr);                                   \
    if (flowkv_cublas_status_ != CUBLAS_STATUS_SUCCESS) {                                  \
      ::flowkv::kernels::throw_cublas_error(static_cast<int>(flowkv_cublas_status_),       \
                                            cublasLtGetStatusName(flowkv_cublas_status_),  \
                                            cublasLtGetStatusString(flowkv_cublas_status_), \
                                            #expr, __FILE__, __LINE__);                    \
    }                                                                                      \
  } while (0)
