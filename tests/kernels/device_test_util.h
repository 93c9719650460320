// Helpers for the executor kernels' tests: typed device arrays, bf16 on the host, random data.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cuda_check.h"
#include "kernels/device_query.h"

namespace flowkv::kernels::test {

// A device array of n elements of T (at least one byte allocated), freed on scope exit.
template <typename T>
class DeviceArray {
 public:
  explicit DeviceArray(size_t n) : n_(n) {
    FLOWKV_CUDA_CHECK(cudaMalloc(&ptr_, n * sizeof(T) > 0 ? n * sizeof(T) : 1));
  }
  explicit DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) { upload(host); }
  ~DeviceArray() { cudaFree(ptr_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  T* get() { return static_cast<T*>(ptr_); }
  const T* get() const { return static_cast<const T*>(ptr_); }
  size_t size() const { return n_; }
  void upload(const std::vector<T>& host) {
    if (!host.empty()) {
      FLOWKV_CUDA_CHECK(cudaMemcpy(ptr_, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
    }
  }
  std::vector<T> download() const {
    std::vector<T> v(n_);
    if (n_) FLOWKV_CUDA_CHECK(cudaMemcpy(v.data(), ptr_, n_ * sizeof(T), cudaMemcpyDeviceToHost));
    return v;
  }

 private:
  void* ptr_ = nullptr;
  size_t n_ = 0;
};

// bf16 as its 16 bits on the host.
inline uint16_t to_bf16(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  bits += 0x7FFFu + ((bits >> 16) & 1u);  // nearest even (finite inputs)
  return static_cast<uint16_t>(bits >> 16);
}
inline float from_bf16(uint16_t h) {
  const uint32_t bits = uint32_t{h} << 16;
  float v;
  std::memcpy(&v, &bits, 4);
  return v;
}
inline float round_bf16(float v) { return from_bf16(to_bf16(v)); }

inline std::vector<uint16_t> random_bf16(size_t n, std::mt19937_64& rng, float scale = 1.0f) {
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<uint16_t> v(n);
  for (auto& x : v) x = to_bf16(u(rng));
  return v;
}

inline std::vector<float> to_float(const std::vector<uint16_t>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = from_bf16(v[i]);
  return out;
}

#define FLOWKV_SKIP_WITHOUT_GPU(what)                                        \
  do {                                                                       \
    if (!::flowkv::kernels::cuda_device_present()) {                         \
      GTEST_SKIP() << "no CUDA device: " << (what) << " cannot run";         \
    }                                                                        \
  } while (0)

}  // namespace flowkv::kernels::test
