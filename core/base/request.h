// A request as it enters the system: what the trace readers and generators produce and what
// the controller routes. Milestones reached while serving it are recorded elsewhere
// (core/work/request_record.h), so a Request stays an immutable description of the workload.
#pragma once

#include <cstdint>


#include "core/base/ids.h"
#include "core/base/packed_vector.h"
#include "core/base/time.h"

namespace flowkv::core {

// Tokens per prefix-hash block, as in Mooncake's traces (`hash_ids`).
inline constexpr int64_t kPrefixHashBlockTokens = 512;

struct Request {
  RequestId id{};
  Time arrival;                // relative to the first arrival of the trace
  int64_t prompt_tokens = 0;   // > 0
  int64_t output_tokens = 0;   // >= 1
  // Hashes of consecutive kPrefixHashBlockTokens-token prompt blocks; equal prefixes share
  // equal leading hashes. Empty when the trace carries none. (PackedVector: 8 bytes when empty,
  // which most traces' requests are; a Request is 56 bytes, so 1M of them take 56 MB.)
  PackedVector<uint64_t> prefix_hashes;
  // The prompt's token ids when the trace carries them (LLMServingSim's input_tok_ids); empty
  // otherwise. Only the live backend reads them (runtime/live/token_source.h).
  PackedVector<int32_t> prompt_token_ids;
  int32_t slo_class = 0;       // index into the scenario's SLO classes; 0 is the default
};

}  // namespace flowkv::core
