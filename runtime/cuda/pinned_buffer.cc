#include "runtime/cuda/pinned_buffer.h"

#include <cuda_runtime_api.h>

#include "core/base/error.h"
#include "kernels/cuda_check.h"

namespace flowkv::runtime {

PinnedBuffer::~PinnedBuffer() {
  if (data_) cudaFreeHost(data_);
}

void PinnedBuffer::reserve(int64_t bytes) {
  FLOWKV_CHECK(bytes >= 0, "negative pinned buffer size");
  if (bytes <= bytes_) return;
  if (data_) {
    FLOWKV_CUDA_CHECK(cudaFreeHost(data_));
    data_ = nullptr;
    bytes_ = 0;
  }
  const int64_t grown = bytes + bytes / 4;  // room for the next, slightly larger iteration
  void* p = nullptr;
  FLOWKV_CUDA_CHECK(cudaMallocHost(&p, static_cast<size_t>(grown)));
  data_ = static_cast<std::byte*>(p);
  bytes_ = grown;
}

}  // namespace flowkv::runtime
