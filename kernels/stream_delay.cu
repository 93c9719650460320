#include "kernels/stream_delay.h"

#include "kernels/cuda_check.h"

namespace flowkv::kernels {
namespace {

__device__ __forceinline__ uint64_t global_timer_ns() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

__global__ void DelayKernel(int64_t nanoseconds) {
  const uint64_t start = global_timer_ns();
  while (global_timer_ns() - start < static_cast<uint64_t>(nanoseconds)) __nanosleep(1000);
}

}  // namespace

void delay_stream(cudaStream_t stream, int64_t nanoseconds) {
  DelayKernel<<<1, 1, 0, stream>>>(nanoseconds);
  FLOWKV_CUDA_CHECK_LAUNCH();
}

}  // namespace flowkv::kernels
