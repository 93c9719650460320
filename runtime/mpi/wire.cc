#include "runtime/mpi/wire.h"

#include <cstring>

#include "core/base/error.h"

namespace flowkv::runtime::wire {
namespace {

[[noreturn]] void bad(const std::string& what) {
  throw core::Error(core::ErrorKind::kRuntime, "control plane: malformed message: " + what);
}

}  // namespace

const char* to_string(Kind kind) {
  switch (kind) {
    case Kind::kHello: return "hello";
    case Kind::kReady: return "ready";
    case Kind::kFatal: return "fatal";
    case Kind::kIteration: return "iteration";
    case Kind::kTransfer: return "transfer";
    case Kind::kSide: return "transfer side";
    case Kind::kCrash: return "crash";
    case Kind::kPeerLost: return "peer lost";
    case Kind::kPing: return "ping";
    case Kind::kPong: return "pong";
    case Kind::kResult: return "result";
    case Kind::kShutdown: return "shutdown";
    case Kind::kBye: return "bye";
    case Kind::kCancel: return "cancel";
  }
  return "unknown";
}

Writer& Writer::raw(const void* p, size_t n) {
  const size_t at = bytes_.size();
  bytes_.resize(at + n);
  if (n > 0) std::memcpy(bytes_.data() + at, p, n);
  return *this;
}

Writer& Writer::str(const std::string& s) {
  u64(s.size());
  return raw(s.data(), s.size());
}

Reader::Reader(std::span<const std::byte> bytes) : bytes_(bytes) {
  if (bytes.empty()) bad("empty");
  const auto k = static_cast<uint8_t>(bytes[0]);
  if (k < static_cast<uint8_t>(Kind::kHello) || k > static_cast<uint8_t>(Kind::kCancel)) {
    bad("unknown kind " + std::to_string(k));
  }
  kind_ = static_cast<Kind>(k);
  at_ = 1;
}

void Reader::raw(void* p, size_t n) {
  if (n > bytes_.size() - at_) bad(std::string(to_string(kind_)) + " is shorter than its fields");
  if (n > 0) std::memcpy(p, bytes_.data() + at_, n);
  at_ += n;
}

uint64_t Reader::count(size_t element) {
  const uint64_t n = u64();
  if (element > 0 && n > (bytes_.size() - at_) / element) bad(std::string(to_string(kind_)) + ": a count past its end");
  return n;
}

std::string Reader::str() {
  const uint64_t n = count(1);
  std::string s(static_cast<size_t>(n), '\0');
  raw(s.data(), s.size());
  return s;
}

void Reader::end() const {
  if (at_ != bytes_.size()) bad(std::string(to_string(kind_)) + " has " + std::to_string(bytes_.size() - at_) + " extra bytes");
}

Bytes encode(const IterationJob& job) {
  Writer w(Kind::kIteration);
  w.u64(job.work).u32(job.node).vec(job.items).vec(job.tokens).vec(job.blocks);
  return w.take();
}

IterationJob decode_iteration(Reader& r) {
  IterationJob job;
  job.work = r.u64();
  job.node = r.u32();
  job.items = r.vec<IterationJob::Item>();
  job.tokens = r.vec<int32_t>();
  job.blocks = r.vec<int64_t>();
  int64_t tokens = 0, blocks = 0;
  for (const IterationJob::Item& it : job.items) {
    if (it.num_tokens < 1 || it.num_blocks < 0 || it.start < 0) bad("an iteration item with bad sizes");
    tokens += it.num_tokens;
    blocks += it.num_blocks;
  }
  if (tokens != static_cast<int64_t>(job.tokens.size()) || blocks != static_cast<int64_t>(job.blocks.size())) {
    bad("an iteration whose items do not cover its tokens and blocks");
  }
  return job;
}

Bytes encode(const TransferJob& job, int side, int peer_rank) {
  Writer w(side < 0 ? Kind::kTransfer : Kind::kSide);
  w.u64(job.work).u32(job.src).u32(job.dst).vec(job.src_blocks).vec(job.dst_blocks).f64(job.slow);
  if (side >= 0) w.u8(static_cast<uint8_t>(side)).i32(peer_rank);
  return w.take();
}

TransferJob decode_transfer(Reader& r, int& side, int& peer_rank) {
  TransferJob job;
  job.work = r.u64();
  job.src = r.u32();
  job.dst = r.u32();
  job.src_blocks = r.vec<core::BlockRun>();
  job.dst_blocks = r.vec<core::BlockRun>();
  job.slow = r.f64();
  side = -1;
  peer_rank = -1;
  if (r.kind() == Kind::kSide) {
    side = r.u8() != 0 ? 1 : 0;
    peer_rank = r.i32();
  }
  if (core::total_blocks(job.src_blocks) != core::total_blocks(job.dst_blocks)) {
    bad("a transfer with different block counts on its two sides");
  }
  return job;
}

Bytes encode(const JobResult& result) {
  Writer w(Kind::kResult);
  w.u64(result.work).u8(static_cast<uint8_t>(result.state)).vec(result.next).str(result.error);
  w.i64(result.queued.ns()).i64(result.ran.ns());
  return w.take();
}

JobResult decode_result(Reader& r) {
  JobResult result;
  result.work = r.u64();
  const uint8_t state = r.u8();
  if (state > static_cast<uint8_t>(core::WorkState::kTimedOut)) bad("a result with an unknown state");
  result.state = static_cast<core::WorkState>(state);
  result.next = r.vec<int32_t>();
  result.error = r.str();
  result.queued = core::Duration::nanos(r.i64());
  result.ran = core::Duration::nanos(r.i64());
  return result;
}

}  // namespace flowkv::runtime::wire
