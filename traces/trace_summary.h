// Summary statistics of a trace, as `flowkv trace inspect` prints them.
//
// Percentiles interpolate linearly between order statistics (numpy's default, which vLLM's
// serving benchmark uses too). Prefix-block reuse is the fraction of prompt blocks that an
// infinite prefix cache would hit: replaying requests in arrival order, a request's leading
// blocks whose hashes an earlier request already produced count as hits.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "traces/trace.h"

namespace flowkv::traces {

struct LengthSummary {
  double mean = 0.0;
  double p50 = 0.0;
  double p90 = 0.0;
  double p99 = 0.0;
  int64_t max = 0;
};

struct PrefixReuse {
  int64_t blocks = 0;         // prompt blocks with a hash, over all requests
  int64_t hit_blocks = 0;     // leading blocks already seen in an earlier request
  int64_t unique_hashes = 0;  // distinct hashes
  double fraction() const { return blocks ? static_cast<double>(hit_blocks) / blocks : 0.0; }
};

struct TraceSummary {
  int64_t requests = 0;
  double duration_s = 0.0;         // last arrival - first arrival
  std::optional<double> rate_rps;  // requests / duration; none for a zero-length span
  LengthSummary input_tokens;
  LengthSummary output_tokens;
  std::map<std::string, int64_t> skipped;
  std::optional<PrefixReuse> prefix;  // none when no request carries prefix hashes
};

TraceSummary summarize(const Trace& trace);
// Keys: requests, duration_s, rate_rps, input_tokens, output_tokens ({mean, p50, p90, p99, max}),
// skipped ({reason: rows}), prefix_block_reuse (fraction or null).
nlohmann::json to_json(const TraceSummary& summary);
std::string to_text(const TraceSummary& summary);

}  // namespace flowkv::traces
