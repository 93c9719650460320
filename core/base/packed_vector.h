// PackedVector<T>: a vector of trivially copyable values in one pointer (8 bytes, against
// std::vector's 24), for the per-request lists that are usually empty.
//
// A Request carries two such lists (prefix hashes, prompt token ids); most traces carry neither,
// yet a 1M-request replay kept 48 MB of empty std::vectors. The size and capacity live in a
// header in front of the elements, on the heap; an empty PackedVector allocates nothing.
// It offers the part of std::vector's interface the code uses (size, data, iterators, indexing,
// push_back, reserve, resize, assignment from a std::vector or a braced list), compares with
// itself and with std::vector, and converts to std::vector and std::span. At most 2^32 - 1
// elements. Not thread-safe (like std::vector).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <new>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <vector>

namespace flowkv::core {

template <typename T>
class PackedVector {
  static_assert(std::is_trivially_copyable_v<T>, "PackedVector holds plain values");

 public:
  using value_type = T;
  using size_type = size_t;
  using iterator = T*;
  using const_iterator = const T*;
  using reference = T&;
  using const_reference = const T&;

  PackedVector() = default;
  PackedVector(std::initializer_list<T> values) { assign(values.begin(), values.end()); }
  PackedVector(const std::vector<T>& values) { assign(values.data(), values.data() + values.size()); }  // NOLINT: like a vector
  PackedVector(size_t n, const T& value) { resize(n, value); }
  PackedVector(const PackedVector& other) { assign(other.begin(), other.end()); }
  PackedVector(PackedVector&& other) noexcept : h_(other.h_) { other.h_ = nullptr; }
  ~PackedVector() { ::operator delete(h_); }

  PackedVector& operator=(const PackedVector& other) {
    if (this != &other) assign(other.begin(), other.end());
    return *this;
  }
  PackedVector& operator=(PackedVector&& other) noexcept {
    if (this != &other) {
      ::operator delete(h_);
      h_ = other.h_;
      other.h_ = nullptr;
    }
    return *this;
  }
  PackedVector& operator=(const std::vector<T>& values) {
    assign(values.data(), values.data() + values.size());
    return *this;
  }
  PackedVector& operator=(std::initializer_list<T> values) {
    assign(values.begin(), values.end());
    return *this;
  }

  size_t size() const { return h_ == nullptr ? 0 : h_->size; }
  size_t capacity() const { return h_ == nullptr ? 0 : h_->capacity; }
  bool empty() const { return size() == 0; }
  T* data() { return h_ == nullptr ? nullptr : elements(); }
  const T* data() const { return h_ == nullptr ? nullptr : elements(); }
  T* begin() { return data(); }
  T* end() { return data() + size(); }
  const T* begin() const { return data(); }
  const T* end() const { return data() + size(); }
  T& operator[](size_t i) { return elements()[i]; }
  const T& operator[](size_t i) const { return elements()[i]; }
  T& front() { return elements()[0]; }
  const T& front() const { return elements()[0]; }
  T& back() { return elements()[size() - 1]; }
  const T& back() const { return elements()[size() - 1]; }

  void reserve(size_t n) {
    if (n <= capacity()) return;
    if (n > UINT32_MAX) throw std::length_error("PackedVector: more than 2^32 - 1 elements");
    Header* h = static_cast<Header*>(::operator new(kOffset + n * sizeof(T)));
    h->size = static_cast<uint32_t>(size());
    h->capacity = static_cast<uint32_t>(n);
    if (h_ != nullptr) {
      if (h_->size > 0) std::memcpy(reinterpret_cast<char*>(h) + kOffset, elements(), h_->size * sizeof(T));
      ::operator delete(h_);
    }
    h_ = h;
  }
  void push_back(const T& value) {
    const T copy = value;  // `value` may live in this vector
    if (size() == capacity()) reserve(std::max<size_t>(4, 2 * capacity()));
    elements()[h_->size++] = copy;
  }
  void resize(size_t n, const T& value = T{}) {
    const size_t old = size();
    if (n > old) {
      reserve(n);
      std::fill(elements() + old, elements() + n, value);
    }
    if (h_ != nullptr) h_->size = static_cast<uint32_t>(n);
  }
  void clear() {
    if (h_ != nullptr) h_->size = 0;
  }
  template <typename It>
  void assign(It first, It last) {
    const size_t n = static_cast<size_t>(std::distance(first, last));
    if (n == 0) {
      clear();
      return;
    }
    if (n > capacity()) {
      ::operator delete(h_);
      h_ = nullptr;
      reserve(n);
    }
    std::copy(first, last, elements());
    h_->size = static_cast<uint32_t>(n);
  }

  operator std::vector<T>() const { return std::vector<T>(begin(), end()); }  // NOLINT: like a vector
  operator std::span<const T>() const { return std::span<const T>(data(), size()); }  // NOLINT

  friend bool operator==(const PackedVector& a, const PackedVector& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }
  friend bool operator==(const PackedVector& a, const std::vector<T>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }

 private:
  struct Header {
    uint32_t size;
    uint32_t capacity;
  };
  // The elements start at the first multiple of their alignment after the header.
  static constexpr size_t kOffset = (sizeof(Header) + alignof(T) - 1) / alignof(T) * alignof(T);
  static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__, "over-aligned elements");
  T* elements() const { return reinterpret_cast<T*>(reinterpret_cast<char*>(h_) + kOffset); }

  Header* h_ = nullptr;
};

}  // namespace flowkv::core
