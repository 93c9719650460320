#include "tools/flowkv/run_summary.h"

#include <unistd.h>

#include <cstdio>
#include <string>

namespace flowkv::cli {

namespace {

void print_stat_row(const char* name, const core::Stat& s, double scale, const char* unit) {
  std::printf("  %-14s %10.3f %10.3f %10.3f %10.3f  %s\n", name, s.mean * scale, s.p50 * scale,
              s.p90 * scale, s.p99 * scale, unit);
}

}  // namespace

void print_run_summary(const core::Scenario& sc, const core::RunResult& r) {
  const core::RunMetrics& m = r.metrics;
  int roles[3] = {0, 0, 0};
  for (const core::NodeSpec& n : sc.nodes) ++roles[static_cast<int>(n.role)];
  std::printf("scenario %s: %s, %zu nodes (%d prefill, %d decode, %d colocated), policy %s\n",
              sc.name.c_str(), sc.model.name.c_str(), sc.nodes.size(), roles[0], roles[1], roles[2],
              sc.global.name.c_str());
  std::printf("requests: %lld total, %lld completed, %lld failed, %lld preempted (%lld preemptions)\n",
              static_cast<long long>(m.total), static_cast<long long>(m.completed),
              static_cast<long long>(m.failed), static_cast<long long>(m.preempted),
              static_cast<long long>(m.preemptions));
  for (const auto& [reason, n] : m.failed_by_reason) {
    std::printf("  failed: %s: %lld\n", reason.c_str(), static_cast<long long>(n));
  }
  std::printf("  %-14s %10s %10s %10s %10s\n", "", "mean", "p50", "p90", "p99");
  print_stat_row("TTFT", m.ttft, 1e3, "ms");
  print_stat_row("TPOT", m.tpot, 1e3, "ms");
  print_stat_row("ITL", m.itl, 1e3, "ms");
  print_stat_row("E2E", m.e2e, 1.0, "s");
  print_stat_row("queueing", m.queue, 1e3, "ms");
  print_stat_row("KV transfer", m.transfer, 1e3, "ms");
  std::printf("throughput: %.3f requests/s, %.1f output tokens/s over %.1f s\n", m.requests_per_s,
              m.output_tokens_per_s, m.makespan_s);
  std::printf("goodput: %.3f requests/s (%.1f%% within TTFT <= %g s and TPOT <= %g s)\n", m.goodput_rps,
              100.0 * m.slo_attainment, sc.slo.ttft_s, sc.slo.tpot_s);
  std::printf("KV transfers: %lld calls, %.3f GB; role flips: %lld\n",
              static_cast<long long>(m.transfer_calls_total), static_cast<double>(m.transfer_bytes_total) / 1e9,
              static_cast<long long>(m.role_flips));
  if (m.elastic_joins + m.elastic_leaves > 0 || sc.prefix_cache_blocks != 0) {
    std::printf("elastic: %lld joins, %lld leaves; prefix cache: %.1f%% of routed prompt tokens hit\n",
                static_cast<long long>(m.elastic_joins), static_cast<long long>(m.elastic_leaves),
                m.prefix_prompt_tokens > 0 ? 100.0 * static_cast<double>(m.prefix_hit_tokens) /
                                                 static_cast<double>(m.prefix_prompt_tokens)
                                           : 0.0);
  }
  if (!sc.faults.empty()) {
    std::printf("faults: %zu injected, %lld node failures; recovered %lld by re-prefill, %lld by re-transfer, "
                "%lld rerouted\n",
                sc.faults.size(), static_cast<long long>(m.node_failures), static_cast<long long>(m.recoveries.reprefill),
                static_cast<long long>(m.recoveries.retransfer), static_cast<long long>(m.recoveries.reroute));
  }
  std::printf("  %-6s %-10s %-10s %6s %9s %8s %12s\n", "node", "gpu", "role", "util", "KV mean", "KV peak",
              "preemptions");
  for (const core::NodeMetrics& n : m.nodes) {
    std::printf("  %-6s %-10s %-10s %5.1f%% %8.1f%% %7.1f%% %12lld\n", n.name.c_str(), n.gpu.c_str(),
                core::to_string(n.final_role), 100 * n.utilization, 100 * n.kv_usage_mean, 100 * n.kv_usage_peak,
                static_cast<long long>(n.preemptions));
  }
}

std::function<void(int64_t, int64_t, int64_t)> progress_bar(bool quiet, double min_interval_s) {
  if (quiet || !::isatty(STDERR_FILENO)) return {};
  auto last = std::make_shared<std::chrono::steady_clock::time_point>();
  const auto start = std::chrono::steady_clock::now();
  return [last, start, min_interval_s](int64_t arrived, int64_t finished, int64_t total) {
    const auto now = std::chrono::steady_clock::now();
    if (finished < total && now - *last < std::chrono::duration<double>(min_interval_s)) return;
    *last = now;
    const int width = 40;
    const double f = total > 0 ? static_cast<double>(finished) / static_cast<double>(total) : 1.0;
    const int filled = static_cast<int>(f * width);
    std::fprintf(stderr, "\r[%s%s] %5.1f%% %lld/%lld finished, %lld arrived, %.0f s", std::string(filled, '#').c_str(),
                 std::string(width - filled, ' ').c_str(), 100 * f, static_cast<long long>(finished),
                 static_cast<long long>(total), static_cast<long long>(arrived),
                 std::chrono::duration<double>(now - start).count());
    std::fflush(stderr);
  };
}

void clear_progress_bar(bool shown) {
  if (shown) std::fprintf(stderr, "\r%*s\r", 100, "");
}

}  // namespace flowkv::cli
