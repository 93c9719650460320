// apply_transforms(): time window, first N, rate scale, context clamp, in that order. The
// window is in the trace's own time (before any rate scaling), which is how people name a part
// of a trace ("minutes 10 to 20 of the Azure conversation trace").
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "core/base/error.h"
#include "traces/trace.h"

namespace flowkv::traces {
namespace {

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string seconds_text(core::Duration d) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f s", d.seconds());
  return buf;
}

}  // namespace

void apply_transforms(Trace& trace, const TraceTransforms& t) {
  if (!(t.rate_scale > 0.0) || !std::isfinite(t.rate_scale)) {
    core::throw_input_error("rate_scale: expected a positive number, got " +
                            number_text(t.rate_scale));
  }
  if (t.window_start && t.window_end && *t.window_end <= *t.window_start) {
    core::throw_input_error("time window: the end (" + seconds_text(*t.window_end) +
                            ") must be after the start (" + seconds_text(*t.window_start) + ")");
  }
  if (t.window_start && *t.window_start < core::Duration::zero()) {
    core::throw_input_error("time window: the start must not be negative, got " +
                            seconds_text(*t.window_start));
  }
  if (t.max_requests && *t.max_requests < 1) {
    core::throw_input_error("max_requests: expected a positive integer, got " +
                            std::to_string(*t.max_requests));
  }
  if (t.max_context && *t.max_context < 2) {
    core::throw_input_error(
        "clamp_to_context: expected at least 2 tokens (one prompt, one "
        "output), got " +
        std::to_string(*t.max_context));
  }

  auto& requests = trace.requests;
  if (t.window_start || t.window_end) {
    const core::Duration span = requests.empty()
                                    ? core::Duration::zero()
                                    : requests.back().arrival - requests.front().arrival;
    const core::Time lo = core::Time::zero() + t.window_start.value_or(core::Duration::zero());
    const core::Time hi = t.window_end ? core::Time::zero() + *t.window_end : core::Time::max();
    std::vector<core::Request> kept;
    kept.reserve(requests.size());
    for (auto& r : requests) {
      if (r.arrival >= lo && r.arrival < hi) kept.push_back(std::move(r));
    }
    trace.stats.outside_window += static_cast<int64_t>(requests.size() - kept.size());
    requests = std::move(kept);
    if (requests.empty()) {
      core::throw_input_error("time window [" + seconds_text(lo.since_start()) + ", " +
                              (t.window_end ? seconds_text(*t.window_end) : std::string("end")) +
                              ") keeps no request of " + trace.source + " (which spans " +
                              seconds_text(span) + ")");
    }
    normalize_requests(requests);
  }
  if (t.max_requests && static_cast<int64_t>(requests.size()) > *t.max_requests) {
    trace.stats.beyond_max_requests += static_cast<int64_t>(requests.size()) - *t.max_requests;
    requests.resize(static_cast<size_t>(*t.max_requests));
  }
  if (t.rate_scale != 1.0) {
    for (auto& r : requests) {
      const double ns = static_cast<double>(r.arrival.ns()) / t.rate_scale;
      if (!(ns < 9.2e18)) {
        core::throw_input_error("rate_scale " + number_text(t.rate_scale) +
                                " stretches the trace beyond the representable time");
      }
      r.arrival = core::Time::from_nanos(std::llround(ns));
    }
  }
  if (t.max_context) {
    const int64_t limit = *t.max_context;
    for (auto& r : requests) {
      if (r.prompt_tokens + r.output_tokens <= limit) continue;
      ++trace.stats.clamped;
      if (r.prompt_tokens >= limit) {
        r.prompt_tokens = limit - 1;
        // The cut lands inside a block whose hash described the longer prompt: keep only the
        // hashes of whole blocks, so a clamped prompt never claims a prefix hit it lacks.
        const size_t whole = static_cast<size_t>(r.prompt_tokens / core::kPrefixHashBlockTokens);
        if (r.prefix_hashes.size() > whole) r.prefix_hashes.resize(whole);
        if (static_cast<int64_t>(r.prompt_token_ids.size()) > r.prompt_tokens) {
          r.prompt_token_ids.resize(static_cast<size_t>(r.prompt_tokens));
        }
      }
      r.output_tokens = limit - r.prompt_tokens;
    }
  }
}

}  // namespace flowkv::traces
