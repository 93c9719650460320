#include "traces/trace_summary.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <unordered_set>
#include <vector>

namespace flowkv::traces {
namespace {

double percentile(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0.0;
  const double rank = p / 100.0 * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(rank);
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = rank - static_cast<double>(lo);
  return static_cast<double>(sorted[lo]) + frac * static_cast<double>(sorted[hi] - sorted[lo]);
}

LengthSummary summarize_lengths(std::vector<int64_t> values) {
  LengthSummary s;
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  double sum = 0.0;
  for (int64_t v : values) sum += static_cast<double>(v);
  s.mean = sum / static_cast<double>(values.size());
  s.p50 = percentile(values, 50);
  s.p90 = percentile(values, 90);
  s.p99 = percentile(values, 99);
  s.max = values.back();
  return s;
}

nlohmann::json lengths_json(const LengthSummary& s) {
  return {{"mean", s.mean}, {"p50", s.p50}, {"p90", s.p90}, {"p99", s.p99}, {"max", s.max}};
}

}  // namespace

TraceSummary summarize(const Trace& trace) {
  TraceSummary s;
  const auto& rs = trace.requests;
  s.requests = static_cast<int64_t>(rs.size());
  if (!rs.empty()) s.duration_s = (rs.back().arrival - rs.front().arrival).seconds();
  if (s.duration_s > 0.0) s.rate_rps = static_cast<double>(s.requests) / s.duration_s;
  std::vector<int64_t> in, out;
  in.reserve(rs.size());
  out.reserve(rs.size());
  bool any_hashes = false;
  for (const auto& r : rs) {
    in.push_back(r.prompt_tokens);
    out.push_back(r.output_tokens);
    any_hashes = any_hashes || !r.prefix_hashes.empty();
  }
  s.input_tokens = summarize_lengths(std::move(in));
  s.output_tokens = summarize_lengths(std::move(out));
  s.skipped = trace.stats.skipped;
  if (any_hashes) {
    PrefixReuse p;
    std::unordered_set<uint64_t> seen;
    for (const auto& r : rs) {
      bool leading = true;
      for (uint64_t h : r.prefix_hashes) {
        const bool hit = seen.count(h) > 0;
        leading = leading && hit;
        if (leading) ++p.hit_blocks;
        if (!hit) seen.insert(h);
      }
      p.blocks += static_cast<int64_t>(r.prefix_hashes.size());
    }
    p.unique_hashes = static_cast<int64_t>(seen.size());
    s.prefix = p;
  }
  return s;
}

nlohmann::json to_json(const TraceSummary& s) {
  nlohmann::json j;
  j["requests"] = s.requests;
  j["duration_s"] = s.duration_s;
  j["rate_rps"] = s.rate_rps ? nlohmann::json(*s.rate_rps) : nlohmann::json(nullptr);
  j["input_tokens"] = lengths_json(s.input_tokens);
  j["output_tokens"] = lengths_json(s.output_tokens);
  j["skipped"] = nlohmann::json::object();
  for (const auto& [reason, n] : s.skipped) j["skipped"][reason] = n;
  j["prefix_block_reuse"] =
      s.prefix ? nlohmann::json(s.prefix->fraction()) : nlohmann::json(nullptr);
  return j;
}

std::string to_text(const TraceSummary& s) {
  std::string out;
  char buf[256];
  std::snprintf(buf, sizeof buf, "requests        %lld\n", static_cast<long long>(s.requests));
  out += buf;
  if (s.rate_rps) {
    std::snprintf(buf, sizeof buf, "span            %.3f s\nrate            %.3f req/s\n",
                  s.duration_s, *s.rate_rps);
  } else {
    std::snprintf(buf, sizeof buf,
                  "span            %.3f s\nrate            n/a (all arrivals at one instant)\n",
                  s.duration_s);
  }
  out += buf;
  std::snprintf(buf, sizeof buf, "%-15s %10s %10s %10s %10s %10s\n", "tokens", "mean", "p50", "p90",
                "p99", "max");
  out += buf;
  for (const auto& [name, l] :
       {std::pair<const char*, const LengthSummary&>{"input", s.input_tokens},
        std::pair<const char*, const LengthSummary&>{"output", s.output_tokens}}) {
    std::snprintf(buf, sizeof buf, "%-15s %10.1f %10.1f %10.1f %10.1f %10lld\n", name, l.mean,
                  l.p50, l.p90, l.p99, static_cast<long long>(l.max));
    out += buf;
  }
  if (s.skipped.empty()) {
    out += "skipped rows    none\n";
  } else {
    for (const auto& [reason, n] : s.skipped) {
      std::snprintf(buf, sizeof buf, "skipped rows    %lld (%s)\n", static_cast<long long>(n),
                    reason.c_str());
      out += buf;
    }
  }
  if (s.prefix) {
    std::snprintf(buf, sizeof buf,
                  "prefix reuse    %.1f%% of %lld 512-token blocks hit an infinite prefix cache "
                  "(%lld distinct hashes)\n",
                  100.0 * s.prefix->fraction(), static_cast<long long>(s.prefix->blocks),
                  static_cast<long long>(s.prefix->unique_hashes));
  } else {
    std::snprintf(buf, sizeof buf, "prefix reuse    n/a (the trace carries no prefix hashes)\n");
  }
  out += buf;
  return out;
}

}  // namespace flowkv::traces
