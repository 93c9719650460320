#include "tools/flowkv/result_table.h"

namespace flowkv::cli {

void print_result_header(std::FILE* out, const std::string& label) {
  std::fprintf(out, "%-24s %9s %9s %8s %8s %8s %8s %8s %8s %8s %7s %6s %9s\n", label.c_str(), "TTFT", "TTFT", "TPOT",
               "TPOT", "E2E", "E2E", "thruput", "goodput", "xfer", "flips", "elast", "done/fail");
  std::fprintf(out, "%-24s %9s %9s %8s %8s %8s %8s %8s %8s %8s %7s %6s %9s\n", "", "mean ms", "p99 ms", "mean ms",
               "p99 ms", "mean s", "p99 s", "req/s", "req/s", "mean ms", "", "+/-", "");
}

void print_result_row(std::FILE* out, const std::string& label, const core::RunMetrics& m) {
  char elastic[32];
  std::snprintf(elastic, sizeof elastic, "%lld/%lld", static_cast<long long>(m.elastic_joins),
                static_cast<long long>(m.elastic_leaves));
  char done[40];
  std::snprintf(done, sizeof done, "%lld/%lld", static_cast<long long>(m.completed), static_cast<long long>(m.failed));
  std::fprintf(out, "%-24s %9.1f %9.1f %8.2f %8.2f %8.3f %8.3f %8.3f %8.3f %8.2f %7lld %6s %9s\n", label.c_str(),
               m.ttft.mean * 1e3, m.ttft.p99 * 1e3, m.tpot.mean * 1e3, m.tpot.p99 * 1e3, m.e2e.mean, m.e2e.p99,
               m.requests_per_s, m.goodput_rps, m.transfer.mean * 1e3, static_cast<long long>(m.role_flips), elastic,
               done);
}

}  // namespace flowkv::cli
