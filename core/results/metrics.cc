#include "core/results/metrics.h"

#include <algorithm>
#include <cmath>

namespace flowkv::core {

double percentile_sorted(std::span<const double> sorted, double q) {
  if (sorted.empty()) return 0.0;
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

namespace {

// The same value as percentile_sorted(sort(v), q) in O(n): nth_element puts the order statistic
// at lo in place with everything after it no smaller, so the next one is the tail's minimum.
double percentile_select(std::vector<double>& v, double q) {
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(lo), v.end());
  const double low = v[lo];
  if (lo + 1 >= v.size() || pos == static_cast<double>(lo)) return low;
  const double high = *std::min_element(v.begin() + static_cast<std::ptrdiff_t>(lo) + 1, v.end());
  return low + (high - low) * (pos - static_cast<double>(lo));
}

}  // namespace

Stat stat_of(std::vector<double>& values) {
  Stat s;
  s.count = static_cast<int64_t>(values.size());
  if (values.empty()) return s;
  double sum = 0;
  for (double v : values) sum += v;  // in record order, before the selections reorder
  s.mean = sum / static_cast<double>(values.size());
  s.p50 = percentile_select(values, 0.50);
  s.p90 = percentile_select(values, 0.90);
  s.p99 = percentile_select(values, 0.99);
  return s;
}

RunMetrics compute_metrics(const Scenario& scenario, std::span<const RequestRecord> records,
                           const StreamingHistogram& itl, std::span<const NodeState> nodes) {
  RunMetrics m;
  Time end = Time::zero();
  int64_t output_tokens = 0, good = 0;
  auto completed = [](const RequestRecord& r) { return r.prompt_tokens > 0 && r.status == RequestStatus::kCompleted; };
  auto ttft_of = [](const RequestRecord& r) { return (r.first_token.value() - r.arrival).seconds(); };
  auto tpot_of = [](const RequestRecord& r) {
    return (r.finish.value() - r.first_token.value()).seconds() / (r.output_tokens - 1);
  };
  for (const RequestRecord& r : records) {
    if (r.prompt_tokens == 0) continue;  // an id that never arrived
    ++m.total;
    m.preemptions += r.preemptions;
    m.preempted += r.preemptions > 0 ? 1 : 0;
    m.retries += r.retries;
    m.transfer_calls_total += r.transfer_calls;
    m.transfer_bytes_total += r.transfer_bytes;
    if (r.finish.has_value()) end = std::max(end, r.finish.value());
    if (r.status == RequestStatus::kFailed) {
      ++m.failed;
      ++m.failed_by_reason[std::string(to_string(r.failure))];
      continue;
    }
    if (r.status != RequestStatus::kCompleted) continue;
    ++m.completed;
    output_tokens += r.output_tokens;
    bool ok = ttft_of(r) <= scenario.slo.ttft_s;
    if (r.output_tokens > 1) ok = ok && tpot_of(r) <= scenario.slo.tpot_s;
    good += ok ? 1 : 0;
  }
  // One metric at a time through one buffer: a 1M-request run needs 8 MB here, not 40.
  std::vector<double> values;
  values.reserve(static_cast<size_t>(m.completed));
  auto stat = [&](auto include, auto value) {
    values.clear();
    for (const RequestRecord& r : records) {
      if (completed(r) && include(r)) values.push_back(value(r));
    }
    return stat_of(values);
  };
  auto all = [](const RequestRecord&) { return true; };
  m.ttft = stat(all, ttft_of);
  m.tpot = stat([](const RequestRecord& r) { return r.output_tokens > 1; }, tpot_of);
  m.e2e = stat(all, [](const RequestRecord& r) { return (r.finish.value() - r.arrival).seconds(); });
  m.queue = stat([](const RequestRecord& r) { return r.prefill_start.has_value(); },
                 [](const RequestRecord& r) { return (r.prefill_start.value() - r.arrival).seconds(); });
  m.transfer = stat([](const RequestRecord& r) { return r.transfer_start.has_value(); },
                    [](const RequestRecord& r) { return r.transfer_time.seconds(); });
  m.itl.count = itl.count();
  m.itl.mean = itl.mean_seconds();
  m.itl.p50 = itl.quantile_seconds(0.50);
  m.itl.p90 = itl.quantile_seconds(0.90);
  m.itl.p99 = itl.quantile_seconds(0.99);
  m.itl_std_s = itl.std_seconds();
  m.makespan_s = end.seconds();
  if (m.makespan_s > 0) {
    m.requests_per_s = static_cast<double>(m.completed) / m.makespan_s;
    m.output_tokens_per_s = static_cast<double>(output_tokens) / m.makespan_s;
    m.goodput_rps = static_cast<double>(good) / m.makespan_s;
  }
  m.slo_attainment = m.completed > 0 ? static_cast<double>(good) / static_cast<double>(m.completed) : 0;
  const double span_ns = static_cast<double>(end.ns());
  for (const NodeState& n : nodes) {
    NodeMetrics x;
    x.name = n.spec->name;
    x.gpu = n.spec->gpu.name;
    x.initial_role = n.initial_role;
    x.final_role = n.role;
    x.kv_blocks = n.kv->num_blocks();
    if (span_ns > 0) {
      x.utilization = static_cast<double>(n.busy_time.ns()) / span_ns;
      x.kv_usage_mean = x.kv_blocks > 0 ? n.used_block_ns / (span_ns * static_cast<double>(x.kv_blocks)) : 0;
    }
    x.kv_usage_peak = x.kv_blocks > 0 ? static_cast<double>(n.peak_used_blocks) / static_cast<double>(x.kv_blocks) : 0;
    x.iterations = n.iterations;
    x.prefill_tokens = n.prefill_tokens;
    x.decode_tokens = n.decode_tokens;
    x.preemptions = n.preemptions;
    x.transfers_out = n.transfers_out;
    x.transfers_in = n.transfers_in;
    x.role_flips = n.role_flips;
    m.role_flips += n.role_flips;
    x.elastic_joins = n.elastic_joins;
    x.elastic_leaves = n.elastic_leaves;
    m.elastic_joins += n.elastic_joins;
    m.elastic_leaves += n.elastic_leaves;
    x.prefix_hit_tokens = n.prefix_hit_tokens;
    m.prefix_prompt_tokens += n.prefix_prompt_tokens;
    m.prefix_hit_tokens += n.prefix_hit_tokens;
    m.prefix_evictions += n.prefix_evictions;
    x.failures = n.failures;
    m.node_failures += n.failures;
    m.recoveries.reprefill += n.recoveries_reprefill;
    m.recoveries.retransfer += n.recoveries_retransfer;
    m.recoveries.reroute += n.recoveries_reroute;
    m.nodes.push_back(std::move(x));
  }
  return m;
}

}  // namespace flowkv::core
