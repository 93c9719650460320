// CudaTransport: a Transport whose work runs on a CUDA stream (DeviceCopyTransport,
// NcclTransport), so that callers can order kernels around a transfer or time it with events.
#pragma once

#include <cuda_runtime_api.h>

#include "runtime/transport.h"

namespace flowkv::runtime {

class CudaTransport : public Transport {
 public:
  // The stream the transfers run on.
  virtual cudaStream_t stream() const = 0;
};

}  // namespace flowkv::runtime
