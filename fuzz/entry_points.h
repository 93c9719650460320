// The entry points that the fuzz targets drive, one per input parser. The regression test
// (tests/traces/fuzz_regression_test.cc) includes this header too, so a saved input replays
// through exactly the code the fuzzer ran, under the normal build.
//
// Contract: given any bytes, a parser either returns a value that holds its documented
// invariants, or throws core::Error of kind kInvalidInput or kUnsupported (exit code 2) whose
// message names the file. Anything else is a bug and is reported by throwing ContractViolation:
// another exception type (std::bad_alloc, a nlohmann::json exception, ...), another error kind,
// a value that breaks an invariant. Crashes, sanitizer reports, hangs and runaway memory are
// caught by the sanitizers and libFuzzer's -timeout / -rss_limit_mb around these functions.
//
// Inputs out of scope are answered kSkipped, never run: paths naming devices or /proc (reading a
// pipe or device is a feature of the trace reader, and /dev/zero never ends), and generators
// asking for more requests or tokens than the fuzzer's memory budget (the documented limits are
// larger on purpose; see docs/bad_input.md).
//
// Readers that only take a path get the bytes through a file in a per-process scratch folder
// (removed at exit). Not thread-safe: one input at a time per process, as libFuzzer runs them.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <typeinfo>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/sched/load_scenario.h"
#include "core/spec/model_spec.h"
#include "traces/generator.h"
#include "traces/readers.h"
#include "traces/trace.h"

#ifndef FLOWKV_SOURCE_DIR
#error "FLOWKV_SOURCE_DIR must be defined (fuzz/CMakeLists.txt and tests/CMakeLists.txt do)"
#endif

namespace flowkv::fuzz {

enum class Outcome {
  kParsed,    // the input was valid and the result holds its invariants
  kRejected,  // core::Error, kind kInvalidInput or kUnsupported
  kSkipped,   // out of the fuzzer's scope (see the header comment); not run
};

inline const char* to_string(Outcome o) {
  return o == Outcome::kParsed ? "parsed" : o == Outcome::kRejected ? "rejected" : "skipped";
}

// A broken contract: the bug the fuzzer looks for.
class ContractViolation : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

namespace detail {

namespace fs = std::filesystem;

inline const char* kind_name(core::ErrorKind k) {
  switch (k) {
    case core::ErrorKind::kInvalidInput: return "kInvalidInput";
    case core::ErrorKind::kUnsupported: return "kUnsupported";
    case core::ErrorKind::kRuntime: return "kRuntime";
    case core::ErrorKind::kInternal: return "kInternal";
  }
  return "?";
}

inline void expect(bool ok, const std::string& what) {
  if (!ok) throw ContractViolation("broken invariant: " + what);
}

// A folder of this process's own under the system's temporary folder, removed at exit.
class Scratch {
 public:
  Scratch() {
    dir_ = fs::temp_directory_path() / ("flowkv-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // Writes `bytes` to `name` in the folder (replacing it) and returns its path.
  fs::path write(const std::string& name, std::string_view bytes) const {
    const fs::path path = dir_ / name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write the scratch file " + path.string());
    return path;
  }
  const fs::path& dir() const { return dir_; }

 private:
  fs::path dir_;
};

inline const Scratch& scratch() {
  static const Scratch s;
  return s;
}

// Runs one parse and classifies how it ended. `source` must appear in every input error's
// message (the file a user would have to fix); empty to skip that check.
template <typename Fn>
Outcome guarded(const std::string& source, Fn&& fn) {
  try {
    return fn();
  } catch (const core::Error& e) {
    if (e.kind() != core::ErrorKind::kInvalidInput && e.kind() != core::ErrorKind::kUnsupported) {
      throw ContractViolation(std::string("core::Error of kind ") + kind_name(e.kind()) +
                              " (bad input must be kInvalidInput or kUnsupported): " + e.what());
    }
    if (!source.empty() && std::string_view(e.what()).find(source) == std::string_view::npos) {
      throw ContractViolation("input error that does not name the file '" + source +
                              "': " + e.what());
    }
    return Outcome::kRejected;
  } catch (const ContractViolation&) {
    throw;
  } catch (const std::exception& e) {
    throw ContractViolation(std::string("exception other than core::Error (") + typeid(e).name() +
                            "): " + e.what());
  }
}

// The invariants trace.h promises for every Trace. `all_rows`: every data row is either a
// request or a counted skip (true straight from a reader, before any transform).
inline void check_trace(const traces::Trace& t, bool all_rows) {
  expect(!t.requests.empty(), "a trace holds at least one request");
  expect(t.requests.front().arrival == core::Time::zero(), "the first arrival is at time 0");
  for (size_t i = 0; i < t.requests.size(); ++i) {
    const core::Request& r = t.requests[i];
    expect(r.id == core::RequestId{i}, "ids are 0..n-1 in order");
    expect(i == 0 || t.requests[i - 1].arrival <= r.arrival, "requests are sorted by arrival");
    expect(r.prompt_tokens > 0 && r.prompt_tokens <= traces::kMaxRequestTokens,
           "0 < prompt_tokens <= kMaxRequestTokens");
    expect(r.output_tokens > 0 && r.output_tokens <= traces::kMaxRequestTokens,
           "0 < output_tokens <= kMaxRequestTokens");
  }
  if (all_rows) {
    expect(t.stats.rows == static_cast<int64_t>(t.requests.size()) + t.stats.skipped_total(),
           "rows = requests + skipped rows (nothing disappears without a count)");
  }
}

// True when `s`, taken as a path as the parsers would resolve it, names something other than a
// regular file or a folder, or lies under /proc, /sys or /dev.
inline bool names_special_file(const std::string& s) {
  if (s.empty() || s.find('\0') != std::string::npos) return false;
  const fs::path p(s);
  const fs::path candidates[] = {p, scratch().dir() / p, fs::path(FLOWKV_SOURCE_DIR) / p};
  for (const fs::path& c : candidates) {
    std::error_code ec;
    if (!fs::exists(c, ec)) continue;
    const fs::path real = fs::weakly_canonical(c, ec);
    const std::string r = ec ? c.string() : real.string();
    for (const char* root : {"/proc", "/sys", "/dev"}) {
      const std::string_view rv(r);
      const std::string_view rootv(root);
      if (rv.substr(0, rootv.size()) == rootv &&
          (rv.size() == rootv.size() || rv[rootv.size()] == '/')) {
        return true;
      }
    }
    if (!fs::is_regular_file(c, ec) && !fs::is_directory(c, ec)) return true;
  }
  return false;
}

inline bool any_special_path(const nlohmann::json& j) {
  if (j.is_string()) return names_special_file(j.get<std::string>());
  if (j.is_structured()) {
    for (const auto& v : j) {
      if (any_special_path(v)) return true;
    }
  }
  return false;
}

// What the fuzzer's 2 GiB budget allows a generator to produce; valid specs beyond it are
// skipped, not run (they are allowed by design: see docs/bad_input.md).
inline constexpr int64_t kMaxFuzzRequests = 20'000;
inline constexpr int64_t kMaxFuzzTokens = 1'000'000;

inline bool generator_too_big(const traces::GeneratorSpec& spec) {
  // Lengths cost memory only through prefix hashes (one per 512 prompt tokens), which
  // generators make only with a shared prefix.
  const traces::LengthSpec& in = spec.input;
  const int64_t longest = in.dist == traces::LengthDist::kFixed ? in.value : in.max;
  return spec.requests > kMaxFuzzRequests ||
         (spec.shared_prefix && longest + spec.shared_prefix->tokens > kMaxFuzzTokens);
}

}  // namespace detail

// ---- trace readers: the bytes are a trace file -----------------------------------------------

inline Outcome run_trace(traces::TraceFormat format, std::string_view bytes) {
  const detail::fs::path path = detail::scratch().write("trace", bytes);
  return detail::guarded(path.string(), [&] {
    const traces::Trace t = traces::read_trace(path, format);
    detail::check_trace(t, true);
    detail::expect(format == traces::TraceFormat::kAuto || t.format == format,
                   "the trace keeps the format asked for");
    return Outcome::kParsed;
  });
}

// Lengths to resample for an empirical generator: any trace, or a lengths-only CSV.
inline Outcome run_length_samples(std::string_view bytes) {
  const detail::fs::path path = detail::scratch().write("lengths", bytes);
  return detail::guarded(path.string(), [&] {
    detail::check_trace(traces::detail::read_length_samples(path, traces::TraceFormat::kAuto), true);
    return Outcome::kParsed;
  });
}

// ---- model config.json -------------------------------------------------------------------------

inline Outcome run_model_config(std::string_view bytes) {
  const std::string source = "fuzz/config.json";
  return detail::guarded(source, [&] {
    const core::ModelSpec m = core::parse_model_config(std::string(bytes), source);
    detail::expect(m.num_layers > 0 && m.hidden_size > 0 && m.num_heads > 0 && m.num_kv_heads > 0 &&
                       m.head_dim > 0 && m.intermediate_size > 0 && m.vocab_size > 0 &&
                       m.max_context > 0,
                   "every dimension of a model is positive");
    detail::expect(m.num_heads % m.num_kv_heads == 0, "num_kv_heads divides num_heads");
    detail::expect(m.dtype_bytes == 2 || m.dtype_bytes == 4, "dtype is 2 or 4 bytes");
    // Every consumer sizes memory from these right after parsing (scenario, kv plan).
    detail::expect(m.kv_bytes_per_token() > 0, "kv_bytes_per_token() > 0");
    detail::expect(m.weight_bytes() > 0, "weight_bytes() > 0");
    return Outcome::kParsed;
  });
}

// ---- scenario file: the bytes are a scenario .json ---------------------------------------------

inline void check_scenario(const core::Scenario& s) {
  detail::expect(!s.nodes.empty(), "a scenario has nodes");
  for (const core::NodeSpec& n : s.nodes) {
    detail::expect(n.layout.geometry.num_blocks >= 1, n.name + " has at least one KV block");
    detail::expect(n.tensor_parallel >= 1, n.name + " has tensor_parallel >= 1");
  }
  detail::expect(s.workload.is_object(), "the workload is an object");
  // summary.json prints the resolved scenario: it must be printable.
  detail::expect(!s.resolved.dump().empty(), "the resolved scenario prints");
}

inline Outcome run_scenario(std::string_view bytes) {
  const detail::fs::path path = detail::scratch().write("scenario.json", bytes);
  // Models may be named by path: keep the fuzzer away from devices before anything is read.
  const nlohmann::json pre = nlohmann::json::parse(bytes, nullptr, false);
  if (!pre.is_discarded() && detail::any_special_path(pre)) return Outcome::kSkipped;
  return detail::guarded("", [&] {
    check_scenario(core::load_scenario(path));
    return Outcome::kParsed;
  });
}

// ---- --set and the shorthand flags applied to the shipped default scenario ---------------------
//
// One override per line: "--model=X", "--gpu=X", "--prefill-nodes=N", "--decode-nodes=N",
// "--colocated-nodes=N", "--policy=X", "--rate-scale=R", "--seed=N", "--trace=P",
// "--trace-format=F"; any other line is a --set assignment. A number the CLI's flag parser would
// refuse (Boost.Program_options, before any of our code runs) makes the input skipped.

inline Outcome run_scenario_set(std::string_view bytes) {
  static const nlohmann::json base = core::read_scenario_json(
      detail::fs::path(FLOWKV_SOURCE_DIR) / "scenarios" / "default.json");
  core::ScenarioOverrides o;
  bool cli_refuses = false;
  auto integer = [&](std::string_view v) {
    int64_t n = 0;
    const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || p != v.data() + v.size()) cli_refuses = true;
    return n;
  };
  size_t pos = 0;
  while (pos <= bytes.size()) {
    size_t end = bytes.find('\n', pos);
    if (end == std::string_view::npos) end = bytes.size();
    const std::string_view line = bytes.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) continue;
    auto flag = [&](std::string_view name, std::string_view& value) {
      if (line.substr(0, name.size()) != name) return false;
      value = line.substr(name.size());
      return true;
    };
    std::string_view v;
    if (flag("--model=", v)) {
      o.model = std::string(v);
    } else if (flag("--gpu=", v)) {
      o.gpu = std::string(v);
    } else if (flag("--prefill-nodes=", v)) {
      o.prefill_nodes = integer(v);
    } else if (flag("--decode-nodes=", v)) {
      o.decode_nodes = integer(v);
    } else if (flag("--colocated-nodes=", v)) {
      o.colocated_nodes = integer(v);
    } else if (flag("--policy=", v)) {
      o.policy = std::string(v);
    } else if (flag("--rate-scale=", v)) {
      double r = 0;
      const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), r);
      if (ec != std::errc() || p != v.data() + v.size()) cli_refuses = true;
      o.rate_scale = r;
    } else if (flag("--seed=", v)) {
      o.seed = static_cast<uint64_t>(integer(v));
    } else if (flag("--trace=", v)) {
      o.trace = std::string(v);
    } else if (flag("--trace-format=", v)) {
      o.trace_format = std::string(v);
    } else {
      o.sets.emplace_back(line);
    }
  }
  if (cli_refuses) return Outcome::kSkipped;
  if (o.model && detail::names_special_file(*o.model)) return Outcome::kSkipped;
  for (const std::string& s : o.sets) {
    const size_t eq = s.find('=');
    if (eq != std::string::npos && detail::names_special_file(s.substr(eq + 1))) {
      return Outcome::kSkipped;
    }
  }
  return detail::guarded("", [&] {
    nlohmann::json root = base;
    core::apply_overrides(root, o);
    if (detail::any_special_path(root)) return Outcome::kSkipped;
    check_scenario(core::parse_scenario(root, "default.json",
                                        detail::fs::path(FLOWKV_SOURCE_DIR) / "scenarios"));
    return Outcome::kParsed;
  });
}

// ---- the scenario's "workload" object: the bytes are its JSON ----------------------------------

inline Outcome run_workload(std::string_view bytes) {
  // The workload arrives already parsed, as part of a scenario: JSON syntax is the scenario
  // reader's business (run_scenario), so text that is not JSON is out of scope here.
  const nlohmann::json w = nlohmann::json::parse(bytes, nullptr, false);
  if (w.is_discarded() || detail::any_special_path(w)) return Outcome::kSkipped;
  const detail::fs::path base_dir = FLOWKV_SOURCE_DIR;
  if (const auto* g = w.is_object() && w.contains("generator") ? &w["generator"] : nullptr) {
    std::optional<traces::GeneratorSpec> spec;
    const Outcome pre = detail::guarded("", [&] {
      spec = traces::parse_generator_spec(*g, "workload.generator", base_dir);
      return Outcome::kParsed;
    });
    if (pre == Outcome::kParsed && detail::generator_too_big(*spec)) return Outcome::kSkipped;
  }
  return detail::guarded("", [&] {
    const traces::Trace t = traces::load_workload(w, "workload", base_dir, 1);
    detail::check_trace(t, false);
    return Outcome::kParsed;
  });
}

// ---- the table of targets: one fuzz executable and one corpus folder per entry -----------------

struct Target {
  const char* name;
  Outcome (*run)(std::string_view bytes);
};

inline const std::vector<Target>& targets() {
  using traces::TraceFormat;
  static const std::vector<Target> table = {
      {"trace_auto", [](std::string_view b) { return run_trace(TraceFormat::kAuto, b); }},
      {"trace_azure", [](std::string_view b) { return run_trace(TraceFormat::kAzure, b); }},
      {"trace_vidur", [](std::string_view b) { return run_trace(TraceFormat::kVidur, b); }},
      {"trace_burstgpt", [](std::string_view b) { return run_trace(TraceFormat::kBurstGpt, b); }},
      {"trace_native", [](std::string_view b) { return run_trace(TraceFormat::kNative, b); }},
      {"trace_mooncake", [](std::string_view b) { return run_trace(TraceFormat::kMooncake, b); }},
      {"trace_llmservingsim",
       [](std::string_view b) { return run_trace(TraceFormat::kLlmServingSim, b); }},
      {"trace_apex", [](std::string_view b) { return run_trace(TraceFormat::kApex, b); }},
      {"trace_lengths", run_length_samples},
      {"model_config", run_model_config},
      {"scenario", run_scenario},
      {"scenario_set", run_scenario_set},
      {"workload", run_workload},
  };
  return table;
}

inline const Target* find_target(std::string_view name) {
  for (const Target& t : targets()) {
    if (name == t.name) return &t;
  }
  return nullptr;
}

}  // namespace flowkv::fuzz
