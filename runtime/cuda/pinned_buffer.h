// PinnedBuffer: page-locked host memory (cudaMallocHost), grow-only, so that the executor's
// uploads and downloads are truly asynchronous (a copy from pageable memory would make the host
// wait for the stream, with no deadline). Move-only; belongs to the device current when grown.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

namespace flowkv::runtime {

class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  // At least `bytes` (contents are not kept when it grows). Waits for the device (cudaMallocHost
  // does): call only when no work of this buffer's user is in flight.
  void reserve(int64_t bytes);
  std::byte* data() { return data_; }
  int64_t bytes() const { return bytes_; }
  template <typename T>
  T* as() {
    return reinterpret_cast<T*>(data_);
  }

 private:
  std::byte* data_ = nullptr;
  int64_t bytes_ = 0;
};

}  // namespace flowkv::runtime
