// Metrics of a run, with the definitions of vLLM's serving benchmark (benchmark_serving.py),
// computed once from the request records and node figures; docs/simulator.md defines each one.
//
//   TTFT   first token delivered - arrival            (completed requests)
//   TPOT   (E2E - TTFT) / (output tokens - 1)         (completed requests with > 1 token)
//   ITL    gaps between consecutive tokens of a request, pooled over requests (histogram:
//          quantiles within 0.4%, mean exact)
//   E2E    finish - arrival                           (completed requests)
//   queue  first prefill start - arrival              (completed requests)
//   transfer  sum of a request's KV transfer times    (completed requests that transferred)
//   throughput  completed requests, and their output tokens, per second of makespan
//   goodput     completed requests meeting both SLOs (TTFT <= slo.ttft_s and TPOT <=
//               slo.tpot_s; TTFT only for one-token requests) per second of makespan
//   makespan    from the first arrival (time 0) to the last finish
// Percentiles interpolate linearly between order statistics (numpy's default, as vLLM).
// Pure functions; deterministic.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "core/base/streaming_histogram.h"
#include "core/spec/scenario.h"
#include "core/work/node_state.h"
#include "core/work/request_record.h"

namespace flowkv::core {

struct Stat {
  double mean = 0, p50 = 0, p90 = 0, p99 = 0;
  int64_t count = 0;
};

// Linear-interpolated percentile of sorted values; q in [0, 1].
double percentile_sorted(std::span<const double> sorted, double q);
Stat stat_of(std::vector<double>& values);  // reorders `values`

struct NodeMetrics {
  std::string name;
  std::string gpu;
  NodeRole initial_role = NodeRole::kPrefill;
  NodeRole final_role = NodeRole::kPrefill;
  int64_t kv_blocks = 0;
  double utilization = 0;     // busy time / makespan
  double kv_usage_mean = 0;   // time-weighted used / total blocks over the makespan
  double kv_usage_peak = 0;
  int64_t iterations = 0;
  int64_t prefill_tokens = 0;
  int64_t decode_tokens = 0;
  int64_t preemptions = 0;
  int64_t transfers_out = 0;
  int64_t transfers_in = 0;
  int64_t role_flips = 0;
  int64_t elastic_joins = 0;
  int64_t elastic_leaves = 0;
  int64_t prefix_hit_tokens = 0;
  int64_t failures = 0;       // times the node went down (injected faults)
};

// Requests taken off a failed node or a failed transfer and served on (core/sched/recovery.h).
struct RecoveryCounts {
  int64_t reprefill = 0;   // KV lost: computed again
  int64_t retransfer = 0;  // KV intact on the prefill node: sent again
  int64_t reroute = 0;     // nothing lost yet: moved to another node's queue
};

struct RunMetrics {
  int64_t total = 0, completed = 0, failed = 0;
  int64_t preempted = 0;    // requests preempted at least once
  int64_t preemptions = 0;  // preemptions in all
  int64_t retries = 0;
  std::map<std::string, int64_t> failed_by_reason;
  Stat ttft, tpot, itl, e2e, queue, transfer;
  double itl_std_s = 0;  // population standard deviation of the inter-token gaps
  int64_t transfer_calls_total = 0;
  int64_t transfer_bytes_total = 0;
  double makespan_s = 0;
  double requests_per_s = 0;
  double output_tokens_per_s = 0;
  double goodput_rps = 0;
  double slo_attainment = 0;  // good / completed
  int64_t role_flips = 0;
  int64_t elastic_joins = 0;   // standby nodes that became routable
  int64_t elastic_leaves = 0;  // nodes that stopped being routable
  // Prefix caches: prompt tokens of the prefills started on a node with a cache, of those the
  // tokens found cached (hit_rate = hit / prompt; 0 without caches), and the cache entries
  // evicted to make room.
  int64_t prefix_prompt_tokens = 0;
  int64_t prefix_hit_tokens = 0;
  int64_t prefix_evictions = 0;
  int64_t node_failures = 0;
  RecoveryCounts recoveries;
  std::vector<NodeMetrics> nodes;
};

RunMetrics compute_metrics(const Scenario& scenario, std::span<const RequestRecord> records,
                           const StreamingHistogram& itl, std::span<const NodeState> nodes);

}  // namespace flowkv::core
