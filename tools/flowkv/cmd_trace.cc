// flowkv trace inspect | convert | generate: look at, translate and synthesise request traces.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/base/error.h"
#include "tools/flowkv/command.h"
#include "traces/generator.h"
#include "traces/text_scan.h"
#include "traces/trace.h"
#include "traces/trace_summary.h"
#include "traces/trace_writer.h"

namespace flowkv::cli {
namespace {

using nlohmann::json;

constexpr const char* kTraceUsage =
    "flowkv trace <inspect|convert|generate> ...\n\n"
    "  inspect FILE [--trace-format F] [--json]     requests, span, rate, length percentiles,\n"
    "                                               skipped rows, prefix-block reuse\n"
    "  convert IN OUT [--to native|vidur|mooncake]  translate a trace (written atomically)\n"
    "  generate (--preset P | --input D --output D | --spec FILE.json) [--rate R]\n"
    "           [--requests N] [--seed S] -o OUT    synthesise a workload\n\n"
    "formats: auto (default), azure, mooncake, vidur, llmservingsim, apex, burstgpt, native\n"
    "see docs/traces.md for every format and the generator options";

// Transform flags shared by inspect and convert.
void add_transform_options(po::options_description& o) {
  o.add_options()("rate-scale", po::value<double>(),
                  "multiply the request rate (2 = twice as fast)")(
      "window-s", po::value<std::string>(),
      "keep arrivals in [A, B) seconds, written A:B (B may be empty)")(
      "max-requests", po::value<int64_t>(), "keep the first N requests")(
      "clamp-to-context", po::value<int64_t>(), "clamp prompt + output tokens to N (counted)");
}

traces::TraceTransforms transforms_from(const po::variables_map& vm) {
  traces::TraceTransforms t;
  if (vm.count("rate-scale")) t.rate_scale = vm["rate-scale"].as<double>();
  if (vm.count("window-s")) {
    const std::string w = vm["window-s"].as<std::string>();
    const size_t colon = w.find(':');
    double a = 0.0, b = 0.0;
    if (colon == std::string::npos || !traces::detail::parse_double(w.substr(0, colon), a) ||
        (colon + 1 < w.size() && !traces::detail::parse_double(w.substr(colon + 1), b))) {
      core::throw_input_error(
          "--window-s: expected START:END in seconds (END may be empty), got '" + w + "'");
    }
    t.window_start = core::Duration::from_seconds(a);
    if (colon + 1 < w.size()) t.window_end = core::Duration::from_seconds(b);
  }
  if (vm.count("max-requests")) t.max_requests = vm["max-requests"].as<int64_t>();
  if (vm.count("clamp-to-context")) t.max_context = vm["clamp-to-context"].as<int64_t>();
  return t;
}

traces::TraceFormat format_flag(const po::variables_map& vm, const char* name) {
  if (!vm.count(name)) return traces::TraceFormat::kAuto;
  try {
    return traces::parse_trace_format(vm[name].as<std::string>());
  } catch (const core::Error& e) {
    core::throw_input_error(std::string("--") + name + ": " + e.what());
  }
}

void print_skips(const traces::Trace& trace) {
  for (const auto& [reason, n] : trace.stats.skipped) {
    std::cerr << "  skipped " << n << " rows: " << reason << "\n";
  }
  if (trace.stats.clamped)
    std::cerr << "  clamped " << trace.stats.clamped << " requests to the context\n";
  if (trace.stats.outside_window)
    std::cerr << "  left out " << trace.stats.outside_window << " requests outside the window\n";
  if (trace.stats.beyond_max_requests) {
    std::cerr << "  left out " << trace.stats.beyond_max_requests
              << " requests beyond --max-requests\n";
  }
}

int run_inspect(const Args& args) {
  po::options_description o("inspect options");
  o.add_options()("file", po::value<std::string>()->required(), "trace file")(
      "trace-format", po::value<std::string>(), "force the input format (default: detect)")(
      "json", po::bool_switch(), "print JSON instead of a table");
  add_transform_options(o);
  po::positional_options_description pos;
  pos.add("file", 1);
  po::variables_map vm;
  if (!parse_args("flowkv trace inspect FILE [--trace-format F] [--json]", args, o, pos, vm))
    return 0;
  traces::Trace trace =
      traces::read_trace(vm["file"].as<std::string>(), format_flag(vm, "trace-format"));
  traces::apply_transforms(trace, transforms_from(vm));
  const traces::TraceSummary summary = traces::summarize(trace);
  if (vm["json"].as<bool>()) {
    std::cout << traces::to_json(summary).dump(2) << "\n";
  } else {
    std::cout << "trace           " << trace.source << " (" << traces::to_string(trace.format)
              << ")\n"
              << traces::to_text(summary);
  }
  return 0;
}

int run_convert(const Args& args) {
  po::options_description o("convert options");
  o.add_options()("in", po::value<std::string>()->required(), "input trace")(
      "out", po::value<std::string>()->required(), "output file")(
      "trace-format", po::value<std::string>(), "force the input format (default: detect)")(
      "to", po::value<std::string>()->default_value("native"),
      "output format: native, vidur or mooncake");
  add_transform_options(o);
  po::positional_options_description pos;
  pos.add("in", 1).add("out", 1);
  po::variables_map vm;
  if (!parse_args("flowkv trace convert IN OUT [--to native|vidur|mooncake]", args, o, pos, vm))
    return 0;
  const traces::TraceFormat to = format_flag(vm, "to");
  if (to != traces::TraceFormat::kNative && to != traces::TraceFormat::kVidur &&
      to != traces::TraceFormat::kMooncake) {
    core::throw_input_error("--to: expected native, vidur or mooncake, got '" +
                            vm["to"].as<std::string>() + "'");
  }
  // Read and transform everything before the output is opened: bad input writes nothing.
  traces::Trace trace =
      traces::read_trace(vm["in"].as<std::string>(), format_flag(vm, "trace-format"));
  traces::apply_transforms(trace, transforms_from(vm));
  traces::write_trace_file(vm["out"].as<std::string>(), trace, to);
  std::cerr << "wrote " << trace.requests.size() << " requests (" << traces::to_string(trace.format)
            << " -> " << traces::to_string(to) << ") to " << vm["out"].as<std::string>() << "\n";
  print_skips(trace);
  return 0;
}

// "fixed:256", "uniform:100:2000", "lognormal:2000:800[:MIN:MAX]", "empirical:FILE".
json length_flag(const std::string& flag, const std::string& text) {
  const std::string expected =
      "fixed:N, uniform:MIN:MAX, lognormal:MEAN:STD[:MIN:MAX] or empirical:FILE";
  auto bad = [&]() -> json {
    core::throw_input_error("--" + flag + ": expected " + expected + ", got '" + text + "'");
  };
  std::vector<std::string> parts;
  std::stringstream ss(text);
  for (std::string p; std::getline(ss, p, ':');) parts.push_back(p);
  if (parts.empty()) return bad();
  auto number = [&](size_t i) -> json {
    double v = 0.0;
    if (i >= parts.size() || !traces::detail::parse_double(parts[i], v)) return bad();
    int64_t n = 0;
    if (traces::detail::parse_int64(parts[i], n)) return n;
    return v;
  };
  const std::string& dist = parts[0];
  if (dist == "fixed" && parts.size() == 2) return {{"dist", "fixed"}, {"value", number(1)}};
  if (dist == "uniform" && parts.size() == 3) {
    return {{"dist", "uniform"}, {"min", number(1)}, {"max", number(2)}};
  }
  if (dist == "lognormal" && (parts.size() == 3 || parts.size() == 5)) {
    json j = {{"dist", "lognormal"}, {"mean", number(1)}, {"std", number(2)}};
    if (parts.size() == 5) {
      j["min"] = number(3);
      j["max"] = number(4);
    }
    return j;
  }
  if (dist == "empirical" && text.size() > 10)
    return {{"dist", "empirical"}, {"trace", text.substr(10)}};
  return bad();
}

int run_generate(const Args& args) {
  po::options_description o("generate options");
  o.add_options()("preset", po::value<std::string>(),
                  "fixed-1k, fixed-5k, fixed-10k, gov_report, multi_news, qmsum")(
      "spec", po::value<std::string>(),
      "generator JSON file ({\"generator\": {...}} or the object itself)")(
      "arrival", po::value<std::string>(), "arrival process: poisson (default), gamma, constant")(
      "rate", po::value<double>(), "mean arrival rate, requests/s (default 1)")(
      "cv", po::value<double>(), "gamma only: coefficient of variation of the gaps (burstiness)")(
      "requests", po::value<int64_t>(), "number of requests (default 1000)")(
      "input", po::value<std::string>(),
      "prompt lengths: fixed:N | uniform:MIN:MAX | lognormal:MEAN:STD[:MIN:MAX] | empirical:FILE")(
      "output", po::value<std::string>(), "output lengths, same forms as --input")(
      "shared-prefix", po::value<std::string>(),
      "TOKENS:FRACTION: a shared system prompt for a fraction of requests")(
      "seed", po::value<uint64_t>()->default_value(0), "random seed")(
      "out,o", po::value<std::string>()->required(), "output file")(
      "to", po::value<std::string>()->default_value("native"),
      "output format: native, vidur or mooncake");
  po::positional_options_description pos;
  po::variables_map vm;
  if (!parse_args(
          "flowkv trace generate (--preset P | --input D --output D | --spec FILE.json) -o OUT",
          args, o, pos, vm)) {
    return 0;
  }
  if (vm.count("preset") && vm.count("spec"))
    core::throw_input_error("--preset and --spec: give one, not both");
  json j = json::object();
  std::filesystem::path base_dir = std::filesystem::current_path();
  if (vm.count("spec")) {
    const std::filesystem::path spec_path = vm["spec"].as<std::string>();
    std::ifstream in(spec_path);
    if (!in) core::throw_input_error("--spec: cannot open '" + spec_path.string() + "'");
    try {
      j = json::parse(in);
    } catch (const json::parse_error& e) {
      core::throw_input_error(spec_path.string() + ": invalid JSON: " + e.what());
    }
    if (j.is_object() && j.contains("generator")) j = j["generator"];
    base_dir = std::filesystem::absolute(spec_path).parent_path();
  }
  if (vm.count("preset")) j["preset"] = vm["preset"].as<std::string>();
  if (!j.is_object()) core::throw_input_error("--spec: expected a JSON object");
  auto& arrival = j["arrival"];
  if (arrival.is_null()) arrival = json::object();
  if (vm.count("arrival")) arrival["process"] = vm["arrival"].as<std::string>();
  if (vm.count("cv")) arrival["cv"] = vm["cv"].as<double>();
  if (vm.count("rate")) {
    arrival["rate"] = vm["rate"].as<double>();
    j.erase("rate");
  }
  if (arrival.empty()) j.erase("arrival");
  if (vm.count("requests")) j["requests"] = vm["requests"].as<int64_t>();
  if (vm.count("input")) j["input"] = length_flag("input", vm["input"].as<std::string>());
  if (vm.count("output")) j["output"] = length_flag("output", vm["output"].as<std::string>());
  if (vm.count("shared-prefix")) {
    const std::string s = vm["shared-prefix"].as<std::string>();
    const size_t colon = s.find(':');
    int64_t tokens = 0;
    double fraction = 0.0;
    if (colon == std::string::npos || !traces::detail::parse_int64(s.substr(0, colon), tokens) ||
        !traces::detail::parse_double(s.substr(colon + 1), fraction)) {
      core::throw_input_error("--shared-prefix: expected TOKENS:FRACTION such as 1024:0.5, got '" +
                              s + "'");
    }
    j["shared_prefix"] = {{"tokens", tokens}, {"fraction", fraction}};
  }
  const traces::GeneratorSpec spec = traces::parse_generator_spec(j, "generator", base_dir);
  const traces::TraceFormat to = format_flag(vm, "to");
  const uint64_t seed = vm["seed"].as<uint64_t>();
  const traces::Trace trace = traces::generate(spec, seed);
  traces::write_trace_file(vm["out"].as<std::string>(), trace, to);
  std::cerr << "wrote " << trace.requests.size() << " requests to " << vm["out"].as<std::string>()
            << " (" << trace.source << ")\n";
  return 0;
}

int run_trace(const Args& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << "usage: " << kTraceUsage << "\n";
    return args.empty() ? 2 : 0;
  }
  const Args rest(args.begin() + 1, args.end());
  if (args[0] == "inspect") return run_inspect(rest);
  if (args[0] == "convert") return run_convert(rest);
  if (args[0] == "generate") return run_generate(rest);
  core::throw_input_error("unknown subcommand '" + args[0] +
                          "' (expected inspect, convert or generate)");
}

}  // namespace

FLOWKV_COMMAND("trace", "inspect, convert and generate request traces", run_trace);

}  // namespace flowkv::cli
