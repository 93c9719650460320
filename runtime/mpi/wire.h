// The messages of the live control plane between rank 0 (the controller) and the ranks that host
// nodes, as bytes: a one-byte kind, then the fields in a fixed order (host byte order: every rank
// of a job runs the same binary on the same architecture). Decoding checks every length against
// the message and throws core::Error(kRuntime) on a short or malformed one: a message is data
// from another process, validated where it enters.
//
//   rank 0 -> rank k                 rank k -> rank 0
//   kHello      scenario digest      kReady     device name (or kFatal: why it cannot run)
//   kIteration  IterationJob         kResult    JobResult
//   kTransfer   TransferJob          kPong      sequence number
//   kSide       TransferJob + side   kBye       (after kShutdown)
//   kCrash      node
//   kPeerLost   rank
//   kCancel     work id (the other side of a transfer failed)
//   kPing       sequence number
//   kShutdown   whether to MPI_Finalize
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "runtime/live/node_host.h"

namespace flowkv::runtime::wire {

enum class Kind : uint8_t {
  kHello = 1, kReady, kFatal, kIteration, kTransfer, kSide, kCrash, kPeerLost, kPing, kPong, kResult,
  kShutdown, kBye, kCancel,
};
const char* to_string(Kind kind);

using Bytes = std::vector<std::byte>;

class Writer {
 public:
  explicit Writer(Kind kind) { u8(static_cast<uint8_t>(kind)); }
  Writer& u8(uint8_t v) { return raw(&v, 1); }
  Writer& u32(uint32_t v) { return raw(&v, sizeof v); }
  Writer& i32(int32_t v) { return raw(&v, sizeof v); }
  Writer& u64(uint64_t v) { return raw(&v, sizeof v); }
  Writer& i64(int64_t v) { return raw(&v, sizeof v); }
  Writer& f64(double v) { return raw(&v, sizeof v); }
  Writer& str(const std::string& s);
  template <typename T>
  Writer& vec(const std::vector<T>& v) {  // trivially copyable T
    u64(v.size());
    return raw(v.data(), v.size() * sizeof(T));
  }
  Bytes take() { return std::move(bytes_); }

 private:
  Writer& raw(const void* p, size_t n);
  Bytes bytes_;
};

class Reader {
 public:
  explicit Reader(std::span<const std::byte> bytes);
  Kind kind() const { return kind_; }
  uint8_t u8() { uint8_t v; raw(&v, 1); return v; }
  uint32_t u32() { uint32_t v; raw(&v, sizeof v); return v; }
  int32_t i32() { int32_t v; raw(&v, sizeof v); return v; }
  uint64_t u64() { uint64_t v; raw(&v, sizeof v); return v; }
  int64_t i64() { int64_t v; raw(&v, sizeof v); return v; }
  double f64() { double v; raw(&v, sizeof v); return v; }
  std::string str();
  template <typename T>
  std::vector<T> vec() {
    const uint64_t n = count(sizeof(T));
    std::vector<T> v(static_cast<size_t>(n));
    raw(v.data(), static_cast<size_t>(n) * sizeof(T));
    return v;
  }
  // Throws unless every byte was read.
  void end() const;

 private:
  uint64_t count(size_t element);
  void raw(void* p, size_t n);
  std::span<const std::byte> bytes_;
  size_t at_ = 0;
  Kind kind_;
};

Bytes encode(const IterationJob& job);
IterationJob decode_iteration(Reader& r);
// kTransfer (side < 0: the whole transfer on one rank) or kSide (side 1: send, 0: receive, with
// the other rank).
Bytes encode(const TransferJob& job, int side, int peer_rank);
TransferJob decode_transfer(Reader& r, int& side, int& peer_rank);
Bytes encode(const JobResult& result);
JobResult decode_result(Reader& r);

}  // namespace flowkv::runtime::wire
