// CudaModel: what a CudaDevice holds once and its node executors share read-only (internal to
// runtime/cuda/): the weights, the RoPE frequencies, the GEMM shapes and their fixed algorithms.
#pragma once

#include <memory>
#include <string>

#include "kernels/gemm.h"
#include "runtime/cuda/cuda_executor.h"
#include "runtime/cuda/cuda_handles.h"
#include "runtime/cuda/device_weights.h"
#include "runtime/cuda/forward.h"

namespace flowkv::runtime {

struct CudaModel {
  int ordinal = 0;
  std::string device_name;
  CudaDeviceOptions options;
  std::unique_ptr<DeviceWeights> weights;
  DeviceBuffer inv_freq;  // [head_dim / 2] double
  ModelGemmShapes shapes;
  std::shared_ptr<const kernels::GemmAlgoTable> gemm_algos;  // null: heuristic per row count
};

// Device memory one node needs besides its pool (scratch for options.max_batch_tokens tokens,
// GEMM workspace, a margin): what free_bytes() holds back.
int64_t node_reserve_bytes(const CudaModel& model);

}  // namespace flowkv::runtime
