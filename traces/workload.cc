// load_workload(): the scenario's "workload" object (docs/traces.md, "Workloads in scenarios").
#include <nlohmann/json.hpp>
#include <string>

#include "core/base/error.h"
#include "traces/generator.h"
#include "traces/json_fields.h"
#include "traces/trace.h"

namespace flowkv::traces {

using nlohmann::json;

Trace load_workload(const json& w, const std::string& path, const std::filesystem::path& base_dir,
                    uint64_t seed) {
  detail::check_object(w, path,
                       {"trace", "format", "generator", "rate_scale", "window_s", "max_requests",
                        "clamp_to_context"});
  const json* trace_path = detail::member(w, "trace");
  const json* generator = detail::member(w, "generator");
  if ((trace_path != nullptr) == (generator != nullptr)) {
    core::throw_input_error(path +
                            ": expected exactly one of \"trace\" (a trace file) or "
                            "\"generator\" (a synthetic workload)");
  }

  // Transforms are checked before the (possibly large) trace is read.
  TraceTransforms t;
  if (const json* v = detail::member(w, "rate_scale"))
    t.rate_scale = detail::json_positive(*v, path + ".rate_scale");
  if (const json* v = detail::member(w, "window_s")) {
    const std::string wp = path + ".window_s";
    if (!v->is_array() || v->size() != 2)
      detail::json_fail(wp, "[start_s, end_s] (end may be null)", *v);
    const double start = detail::json_number((*v)[0], wp + "[0]");
    // A Duration is int64 nanoseconds: about 292 years.
    constexpr double kMaxWindowS = 9.2e9;
    if (start < 0.0 || start >= kMaxWindowS) {
      detail::json_fail(wp + "[0]", "a number of seconds in [0, 9.2e9)", (*v)[0]);
    }
    t.window_start = core::Duration::from_seconds(start);
    if (!(*v)[1].is_null()) {
      const double end = detail::json_number((*v)[1], wp + "[1]");
      if (!(end > start))
        detail::json_fail(wp + "[1]", "an end after the start (" + (*v)[0].dump() + ")", (*v)[1]);
      if (end >= kMaxWindowS) detail::json_fail(wp + "[1]", "a number of seconds below 9.2e9", (*v)[1]);
      t.window_end = core::Duration::from_seconds(end);
    }
  }
  if (const json* v = detail::member(w, "max_requests"))
    t.max_requests = detail::json_integer(*v, path + ".max_requests", 1);
  if (const json* v = detail::member(w, "clamp_to_context")) {
    t.max_context = detail::json_integer(*v, path + ".clamp_to_context", 2);
  }

  Trace trace;
  if (trace_path) {
    TraceFormat format = TraceFormat::kAuto;
    if (const json* f = detail::member(w, "format")) {
      try {
        format = parse_trace_format(detail::json_string(*f, path + ".format"));
      } catch (const core::Error& e) {
        core::throw_input_error(path + ".format: " + e.what());
      }
    }
    const auto file = resolve_data_path(detail::json_string(*trace_path, path + ".trace"), base_dir,
                                        path + ".trace");
    trace = read_trace(file, format);
  } else {
    if (detail::member(w, "format")) {
      core::throw_input_error(path + ".format: only a \"trace\" workload has a format");
    }
    const json* inner = generator;
    trace = generate(parse_generator_spec(*inner, path + ".generator", base_dir), seed);
  }
  try {
    apply_transforms(trace, t);
  } catch (const core::Error& e) {
    core::throw_input_error(path + ": " + e.what());
  }
  return trace;
}

nlohmann::ordered_json workload_json(const traces::Trace& trace) {
  nlohmann::ordered_json workload = nlohmann::ordered_json::object();
  workload["source"] = trace.source;
  workload["requests"] = static_cast<int64_t>(trace.requests.size());
  workload["rows"] = trace.stats.rows;
  workload["rows_skipped"] = trace.stats.skipped_total();
  workload["clamped"] = trace.stats.clamped;
  return workload;
}

}  // namespace flowkv::traces
