// The prompt tokens a live run feeds the model for each request.
//
// Traces give lengths, so tokens come from the best the trace has:
//   1. its token ids (LLMServingSim's input_tok_ids), folded into the model's vocabulary (id mod
//      vocab_size): a Llama-3 trace on a tiny model keeps its repetitions;
//   2. else its prefix hashes (Mooncake hash_ids): the 512 tokens of each hash block are derived
//      from the hash alone, so requests that share a prefix share its tokens and a prefix-cache
//      hit reuses KV computed from the very same tokens; tokens past the hashed blocks come from 3;
//   3. else the seed and the request id.
// Output lengths are the trace's (the model's end-of-sequence token is ignored, as vLLM's
// benchmark does). Pure functions: the same request, vocabulary and seed give the same tokens.
#pragma once

#include <cstdint>
#include <vector>

#include "core/base/request.h"

namespace flowkv::runtime {

std::vector<int32_t> prompt_tokens(const core::Request& request, int32_t vocab_size, uint64_t seed);

}  // namespace flowkv::runtime
