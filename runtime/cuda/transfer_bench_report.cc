// The figures of `flowkv bench-transfer` as a table and as JSON (see docs/gpu.md for what each
// column means).
#include <algorithm>
#include <cstdio>
#include <ostream>
#include <string>

#include "runtime/cuda/transfer_bench.h"

namespace flowkv::runtime {

const char* to_string(BenchTransport transport) {
  return transport == BenchTransport::kCopy ? "copy" : "nccl";
}

double per_call_seconds(const TransferBenchReport& report) {
  std::vector<double> estimates;
  for (const TokenResult& tr : report.results) {
    for (const MethodResult& m : tr.methods) {
      if (m.key != "per-block-paged" || m.engine != "memcpy" || m.calls == 0) continue;
      const double transfer_s = static_cast<double>(tr.bytes) / (report.baseline_gb_per_s * 1e9);
      estimates.push_back((m.median_ms * 1e-3 - transfer_s) / static_cast<double>(m.calls));
    }
  }
  if (estimates.empty()) return 0;
  std::sort(estimates.begin(), estimates.end());
  return estimates[estimates.size() / 2];
}

nlohmann::json to_json(const TransferBenchOptions& o, const TransferBenchReport& report) {
  nlohmann::json j;
  j["device"] = report.device;
  j["model"] = {{"name", o.model.name},
                {"num_layers", o.model.num_layers},
                {"num_kv_heads", o.model.num_kv_heads},
                {"head_dim", o.model.head_dim},
                {"dtype_bytes", o.model.dtype_bytes},
                {"kv_dtype_bytes", o.model.kv_dtype_bytes},
                {"kv_parts", o.model.kv_geometry(o.block_size, 0).kv_parts},
                {"kv_bytes_per_token", o.model.kv_bytes_per_token()}};
  j["options"] = {{"transport", to_string(o.transport)},
                  {"block_size", o.block_size},
                  {"occupancy", o.occupancy},
                  {"seed", o.seed},
                  {"repeats", o.repeats},
                  {"warmup", o.warmup}};
  j["copy_baseline"] = {{"bytes", report.baseline_bytes},
                        {"median_ms", report.baseline_median_ms},
                        {"gb_per_s", report.baseline_gb_per_s}};
  if (o.transport == BenchTransport::kCopy) {
    // What the simulator's copy link needs: calls x per-call cost + bytes / bandwidth.
    j["copy_link"] = {{"bytes_per_s", report.baseline_gb_per_s * 1e9},
                      {"per_call_latency_us", per_call_seconds(report) * 1e6}};
  }
  nlohmann::json results = nlohmann::json::array();
  for (const TokenResult& tr : report.results) {
    nlohmann::json methods = nlohmann::json::array();
    double per_block_ms = 0;
    for (const MethodResult& m : tr.methods) {
      if (m.key == "per-block-paged") per_block_ms = m.median_ms;
    }
    for (const MethodResult& m : tr.methods) {
      methods.push_back({{"method", m.key},
                         {"engine", m.engine},
                         {"calls", m.calls},
                         {"local_launches", m.local_launches},
                         {"src_runs", m.src_runs},
                         {"dst_runs", m.dst_runs},
                         {"median_ms", m.median_ms},
                         {"min_ms", *std::min_element(m.ms.begin(), m.ms.end())},
                         {"max_ms", *std::max_element(m.ms.begin(), m.ms.end())},
                         {"gb_per_s", m.gb_per_s},
                         {"ratio_to_copy", m.ratio_to_copy},
                         {"speedup_vs_per_block", m.median_ms > 0 ? per_block_ms / m.median_ms : 0.0},
                         {"verified", true}});
    }
    results.push_back({{"tokens", tr.tokens},
                       {"blocks", tr.blocks},
                       {"bytes", tr.bytes},
                       {"methods", methods}});
  }
  j["results"] = results;
  return j;
}

void print_table(const TransferBenchOptions& o, const TransferBenchReport& report,
                 std::ostream& out) {
  char line[256];
  out << "bench-transfer: " << o.model.name << " on " << report.device.value("name", "?")
      << ", transport " << to_string(o.transport) << ", block size " << o.block_size
      << ", fragmented pools at occupancy " << o.occupancy << ", median of " << o.repeats
      << " runs\n";
  std::snprintf(line, sizeof(line), "copy baseline: %.1f MiB in %.3f ms = %.1f GB/s\n",
                static_cast<double>(report.baseline_bytes) / (1 << 20), report.baseline_median_ms,
                report.baseline_gb_per_s);
  out << line;
  std::snprintf(line, sizeof(line), "%7s %9s  %-31s %-12s %7s %11s %9s %8s %9s\n", "tokens", "MiB",
                "method", "engine", "calls", "median ms", "GB/s", "vs copy", "speedup");
  out << line;
  for (const TokenResult& tr : report.results) {
    double per_block_ms = 0;
    for (const MethodResult& m : tr.methods) {
      if (m.key == "per-block-paged") per_block_ms = m.median_ms;
    }
    for (const MethodResult& m : tr.methods) {
      std::snprintf(line, sizeof(line), "%7lld %9.1f  %-31s %-12s %7lld %11.3f %9.1f %7.1f%% %8.1fx\n",
                    static_cast<long long>(tr.tokens), static_cast<double>(tr.bytes) / (1 << 20),
                    m.key.c_str(), m.engine.c_str(), static_cast<long long>(m.calls), m.median_ms,
                    m.gb_per_s, 100.0 * m.ratio_to_copy,
                    m.median_ms > 0 ? per_block_ms / m.median_ms : 0.0);
      out << line;
    }
  }
  if (o.transport == BenchTransport::kCopy) {
    std::snprintf(line, sizeof(line),
                  "copy link for the simulator: %.2f us per cudaMemcpyAsync call, %.1f GB/s\n",
                  per_call_seconds(report) * 1e6, report.baseline_gb_per_s);
    out << line;
  }
  out << "every method's bytes were verified at the destination (source pattern inside the "
         "request's blocks, poison everywhere else)\n";
}

}  // namespace flowkv::runtime
