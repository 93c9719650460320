#include "kernels/device_query.h"

#include <cuda_runtime_api.h>

namespace flowkv::kernels {

bool cuda_device_present() {
  int count = 0;
  const bool ok = cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
  cudaGetLastError();
  return ok;
}

}  // namespace flowkv::kernels
