#include "core/work/work.h"

#include "core/work/request_record.h"

namespace flowkv::core {

const char* to_string(WorkState state) {
  switch (state) {
    case WorkState::kPending: return "pending";
    case WorkState::kCompleted: return "completed";
    case WorkState::kFailed: return "failed";
    case WorkState::kCanceled: return "canceled";
    case WorkState::kTimedOut: return "timed_out";
  }
  return "unknown";
}

std::string_view to_string(FailureReason reason) {
  switch (reason) {
    case FailureReason::kNone: return "";
    case FailureReason::kTooLargeForPrefill: return "prompt_larger_than_any_prefill_pool";
    case FailureReason::kTooLargeForDecode: return "request_larger_than_any_decode_pool";
    case FailureReason::kNoRoutableNode: return "no_routable_node";
    case FailureReason::kRejected: return "rejected_by_scheduler";
    case FailureReason::kTransferFailed: return "transfer_failed";
    case FailureReason::kIterationFailed: return "iteration_failed";
    case FailureReason::kStalled: return "stalled";
    case FailureReason::kNodeFailed: return "node_failed";
  }
  return "unknown";
}

}  // namespace flowkv::core
