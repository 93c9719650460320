// delay_stream: enqueues a kernel that busy-waits on the GPU's global timer, so tests can hold
// a stream busy for a known time (to exercise deadlines and timeouts without real load).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace flowkv::kernels {

// Enqueues a single-thread kernel that returns after `nanoseconds` of GPU time.
void delay_stream(cudaStream_t stream, int64_t nanoseconds);

}  // namespace flowkv::kernels
