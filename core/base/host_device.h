// FLOWKV_HOST_DEVICE marks functions that kernels and host code both call, so that the
// simulator counts exactly the bytes and offsets that the kernels address.
#pragma once

#if defined(__CUDACC__)
#define FLOWKV_HOST_DEVICE __host__ __device__
#else
#define FLOWKV_HOST_DEVICE
#endif
