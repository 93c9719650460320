#include "runtime/cuda/cuda_handles.h"

#include "core/base/error.h"
#include "kernels/cuda_check.h"
#include "kernels/device_query.h"

namespace flowkv::runtime {

DeviceBuffer::DeviceBuffer(int64_t bytes) {
  FLOWKV_CHECK(bytes >= 0, "negative allocation size");
  if (bytes == 0) return;
  void* p = nullptr;
  FLOWKV_CUDA_CHECK(cudaMalloc(&p, static_cast<size_t>(bytes)));
  data_ = static_cast<std::byte*>(p);
  bytes_ = bytes;
}

DeviceBuffer::~DeviceBuffer() {
  if (data_) cudaFree(data_);
}

CudaStream::CudaStream() { FLOWKV_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }

CudaStream::~CudaStream() {
  if (stream_) cudaStreamDestroy(stream_);
}

void CudaStream::synchronize() const { FLOWKV_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

CudaEvent::CudaEvent(bool timing) {
  FLOWKV_CUDA_CHECK(cudaEventCreateWithFlags(&event_, timing ? cudaEventDefault : cudaEventDisableTiming));
}

CudaEvent::~CudaEvent() {
  if (event_) cudaEventDestroy(event_);
}

void CudaEvent::record(cudaStream_t stream) { FLOWKV_CUDA_CHECK(cudaEventRecord(event_, stream)); }

float CudaEvent::elapsed_ms(const CudaEvent& start, const CudaEvent& end) {
  float ms = 0;
  FLOWKV_CUDA_CHECK(cudaEventElapsedTime(&ms, start.event_, end.event_));
  return ms;
}

bool cuda_device_available() { return kernels::cuda_device_present(); }

}  // namespace flowkv::runtime
