// How the copy kernels size their persistent grids: as many blocks as can be resident on the
// current device at once (multiprocessors x the kernel's occupancy), never more blocks than
// work items. A grid larger than what is resident would run in two uneven waves, since each
// block takes one contiguous share of the work.
#pragma once

#include <cstdint>

namespace flowkv::kernels {

// `kernel` is the __global__ function's address, launched with `threads` threads per block and
// no dynamic shared memory. Cached per (device, kernel) after the first call. At least 1.
int persistent_grid(const void* kernel, int threads, int64_t work_items);

}  // namespace flowkv::kernels
