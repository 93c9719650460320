// RequestRecord: what happened to one request, milestone by milestone.
//
// One record per request, written by the controller as the request moves and read by the
// metrics at the end. It is kept small (about 120 bytes) because a 1M-request replay keeps a
// million of them: per-token times are NOT stored; the first and last token times and the token
// count are, and inter-token gaps go to a streaming histogram (core/base/streaming_histogram.h).
// Milestones that were never reached are empty (OptTime without a value).
#pragma once

#include <cstdint>
#include <string_view>

#include "core/base/ids.h"
#include "core/base/time.h"

namespace flowkv::core {

// An optional Time in 8 bytes: std::optional<Time> would double the record's size.
class OptTime {
 public:
  constexpr OptTime() = default;
  constexpr OptTime(Time t) : ns_(t.ns()) {}  // NOLINT: implicit, like std::optional
  constexpr bool has_value() const { return ns_ != kNone; }
  constexpr Time value() const { return Time::from_nanos(ns_); }
  constexpr Time value_or(Time t) const { return has_value() ? value() : t; }

 private:
  static constexpr int64_t kNone = INT64_MIN;
  int64_t ns_ = kNone;
};

enum class RequestStatus : uint8_t { kPending, kCompleted, kFailed };

// Why a request failed; every failed request carries one.
enum class FailureReason : uint8_t {
  kNone,
  kTooLargeForPrefill,   // its prompt's KV does not fit in any prefill-capable node's pool
  kTooLargeForDecode,    // prompt + output KV does not fit in any decode-capable node's pool
  kNoRoutableNode,       // no node of a needed role was routable at arrival
  kRejected,             // the global scheduler refused it (admission control)
  kTransferFailed,       // KV transfer failed more often than the retry budget
  kIterationFailed,      // its node's iterations failed more often than the retry budget
  kStalled,              // still unfinished when no work was left (an internal error)
  kNodeFailed,           // lost its KV (or its node) to node failures more often than the retry budget
};
std::string_view to_string(FailureReason reason);

struct RequestRecord {
  RequestId id{};
  int32_t prompt_tokens = 0;
  int32_t output_tokens = 0;
  Time arrival;
  // Prefill and transfer milestones are those of the first attempt: a preempted request's
  // recompute shows in `preemptions` and in transfer_time (which sums every transfer).
  OptTime queued;          // placed in its prefill node's queue
  OptTime prefill_start;   // its first prefill iteration began
  OptTime prefill_end;     // its first prefill completed (the first output token exists)
  OptTime transfer_start;  // the KV transfer that carried the first token began (after a failed
  OptTime transfer_end;    // transfer, the one that succeeded); empty if the first token came
                           // without one (colocated, or re-prefilled on a colocated node)
  OptTime first_token;     // first output token delivered to the client
  OptTime last_token;
  OptTime finish;          // completed or failed
  Duration transfer_time;  // sum over transfers (retries and recomputes included)
  int64_t transfer_bytes = 0;
  int32_t transfer_calls = 0;
  int32_t tokens = 0;      // output tokens delivered
  uint16_t prefill_node = UINT16_MAX;  // NodeId, UINT16_MAX when never routed
  uint16_t decode_node = UINT16_MAX;
  uint16_t preemptions = 0;
  uint16_t retries = 0;    // failed transfers or iterations retried
  RequestStatus status = RequestStatus::kPending;
  FailureReason failure = FailureReason::kNone;
};

}  // namespace flowkv::core
