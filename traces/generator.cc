// generate(), presets and validation. The JSON form of a spec is parsed in generator_spec.cc.
#include "traces/generator.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>

#include "core/base/error.h"
#include "core/base/repository.h"
#include "traces/prefix_hash.h"
#include "traces/random.h"
#include "traces/readers.h"

namespace flowkv::traces {
namespace {

// Random streams, one per aspect of the workload (see generator.h).
constexpr uint64_t kArrivalStream = 1;
constexpr uint64_t kInputStream = 2;
constexpr uint64_t kOutputStream = 3;
constexpr uint64_t kSharedPrefixStream = 4;

// Far beyond any replay we run, small enough that a typo cannot exhaust memory.
constexpr int64_t kMaxRequests = 100'000'000;

// Content tags that keep synthetic block hashes of the shared system prompt apart from the
// per-request ones.
constexpr uint64_t kSharedBlockTag = 0x5348415245440001ULL;
constexpr uint64_t kUniqueBlockTag = 0x554e495155450001ULL;

LengthSpec fixed(int64_t value) {
  LengthSpec s;
  s.dist = LengthDist::kFixed;
  s.value = value;
  return s;
}

LengthSpec lognormal(double mean, double std, int64_t min, int64_t max) {
  LengthSpec s;
  s.dist = LengthDist::kLogNormal;
  s.mean = mean;
  s.std = std;
  s.min = min;
  s.max = max;
  return s;
}

// LongBench-like presets. Published statistics, in words (no tokenizer-neutral token counts
// exist for these sets):
//   inputs: LongBench task.md (THUDM/LongBench; Bai et al., "LongBench", ACL 2024, Table 1),
//     average length of the full prompt: GovReport 8,734 words, QMSum 10,614, MultiNews 2,113;
//   outputs: the reference summaries of the source datasets: GovReport 553 words (Huang et al.,
//     NAACL 2021), QMSum 69.6 words (Zhong et al., NAACL 2021), Multi-News 263.7 words
//     (Fabbri et al., ACL 2019).
// Our assumptions, stated in docs/traces.md: 1.3 Llama tokens per English word; no standard
// deviation is published, so inputs get a coefficient of variation of 0.5 and outputs 0.3;
// inputs are capped at 32,000 tokens (a 32K-context model) and outputs at LongBench's generation
// limit of 512 tokens for these tasks (config/dataset2maxlen.json).
constexpr double kTokensPerWord = 1.3;
constexpr double kInputCv = 0.5;
constexpr double kOutputCv = 0.3;
constexpr int64_t kMaxInput = 32000;
constexpr int64_t kMaxOutput = 512;

GeneratorSpec longbench(const std::string& name, double input_words, double output_words) {
  GeneratorSpec s;
  s.preset = name;
  const double in_mean = input_words * kTokensPerWord;
  const double out_mean = output_words * kTokensPerWord;
  s.input = lognormal(in_mean, kInputCv * in_mean, 64, kMaxInput);
  s.output = lognormal(out_mean, kOutputCv * out_mean, 8, kMaxOutput);
  return s;
}

GeneratorSpec fixed_preset(const std::string& name, int64_t input_tokens) {
  GeneratorSpec s;
  s.preset = name;
  s.input = fixed(input_tokens);
  s.output = fixed(256);
  return s;
}

const std::map<std::string, GeneratorSpec>& presets() {
  static const std::map<std::string, GeneratorSpec> table = {
      {"fixed-1k", fixed_preset("fixed-1k", 1000)},
      {"fixed-5k", fixed_preset("fixed-5k", 5000)},
      {"fixed-10k", fixed_preset("fixed-10k", 10000)},
      {"gov_report", longbench("gov_report", 8734, 553)},
      {"multi_news", longbench("multi_news", 2113, 263.7)},
      {"qmsum", longbench("qmsum", 10614, 69.6)},
  };
  return table;
}

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

void validate_length(const LengthSpec& s, const std::string& path) {
  auto fail = [&](const std::string& key, const std::string& expected, const std::string& got) {
    core::throw_input_error(path + "." + key + ": expected " + expected + ", got " + got);
  };
  if (s.min < 1) fail("min", "a positive integer", std::to_string(s.min));
  if (s.max < s.min)
    fail("max", "at least min (" + std::to_string(s.min) + ")", std::to_string(s.max));
  const std::string at_most = "at most " + std::to_string(kMaxRequestTokens) + " tokens";
  if (s.max > kMaxRequestTokens) fail("max", at_most, std::to_string(s.max));
  switch (s.dist) {
    case LengthDist::kFixed:
      if (s.value < 1) fail("value", "a positive integer", std::to_string(s.value));
      if (s.value > kMaxRequestTokens) fail("value", at_most, std::to_string(s.value));
      break;
    case LengthDist::kUniform:
      break;
    case LengthDist::kLogNormal:
      if (!(s.mean > 0.0) || !std::isfinite(s.mean))
        fail("mean", "a positive number", number_text(s.mean));
      if (!(s.std >= 0.0) || !std::isfinite(s.std))
        fail("std", "a non-negative number", number_text(s.std));
      break;
    case LengthDist::kEmpirical:
      if (s.trace.empty()) fail("trace", "a trace file path", "nothing");
      break;
  }
}

// Draws lengths for one side (input or output) of the workload.
class LengthSampler {
 public:
  LengthSampler(const LengthSpec& spec, std::shared_ptr<const Trace> empirical, bool input)
      : spec_(spec), empirical_(std::move(empirical)), input_(input) {}

  int64_t draw(Rng& rng, int64_t* empirical_index) const {
    int64_t v = 0;
    switch (spec_.dist) {
      case LengthDist::kFixed:
        return spec_.value;
      case LengthDist::kUniform:
        return rng.uniform_int(spec_.min, spec_.max);
      case LengthDist::kLogNormal:
        v = std::llround(rng.lognormal_mean_std(spec_.mean, spec_.std));
        break;
      case LengthDist::kEmpirical: {
        const auto& rs = empirical_->requests;
        int64_t i = empirical_index && *empirical_index >= 0
                        ? *empirical_index
                        : rng.uniform_int(0, static_cast<int64_t>(rs.size()) - 1);
        if (empirical_index) *empirical_index = i;
        const auto& r = rs[static_cast<size_t>(i)];
        v = input_ ? r.prompt_tokens : r.output_tokens;
        break;
      }
    }
    return std::clamp(v, spec_.min, spec_.max);
  }

 private:
  LengthSpec spec_;
  std::shared_ptr<const Trace> empirical_;
  bool input_;
};

const char* dist_name(LengthDist d) {
  switch (d) {
    case LengthDist::kFixed:
      return "fixed";
    case LengthDist::kUniform:
      return "uniform";
    case LengthDist::kLogNormal:
      return "lognormal";
    case LengthDist::kEmpirical:
      return "empirical";
  }
  return "?";
}

std::string describe_length(const LengthSpec& s) {
  switch (s.dist) {
    case LengthDist::kFixed:
      return "fixed " + std::to_string(s.value);
    case LengthDist::kUniform:
      return "uniform [" + std::to_string(s.min) + ", " + std::to_string(s.max) + "]";
    case LengthDist::kLogNormal:
      return "lognormal mean " + number_text(s.mean) + " std " + number_text(s.std) + " in [" +
             std::to_string(s.min) + ", " + std::to_string(s.max) + "]";
    case LengthDist::kEmpirical:
      return "empirical from " + s.trace.string();
  }
  return dist_name(s.dist);
}

}  // namespace

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const auto& [name, spec] : presets()) names.push_back(name);
  return names;
}

GeneratorSpec preset_spec(const std::string& name) {
  auto it = presets().find(name);
  if (it == presets().end()) {
    std::string names;
    for (const auto& n : preset_names()) names += (names.empty() ? "" : ", ") + n;
    core::throw_input_error("unknown generator preset '" + name + "' (expected one of: " + names +
                            ")");
  }
  return it->second;
}

void validate_generator_spec(const GeneratorSpec& spec, const std::string& path) {
  const ArrivalSpec& a = spec.arrival;
  if (!(a.rate_rps > 0.0) || !std::isfinite(a.rate_rps)) {
    core::throw_input_error(path + ".arrival.rate: expected a positive number, got " +
                            number_text(a.rate_rps));
  }
  if (a.process == ArrivalProcess::kGamma && (!(a.cv > 0.0) || !std::isfinite(a.cv))) {
    core::throw_input_error(path + ".arrival.cv: expected a positive number, got " +
                            number_text(a.cv));
  }
  if (spec.requests < 1 || spec.requests > kMaxRequests) {
    core::throw_input_error(path + ".requests: expected an integer in [1, " +
                            std::to_string(kMaxRequests) + "], got " +
                            std::to_string(spec.requests));
  }
  validate_length(spec.input, path + ".input");
  validate_length(spec.output, path + ".output");
  if (spec.shared_prefix) {
    if (spec.shared_prefix->tokens < 1) {
      core::throw_input_error(path + ".shared_prefix.tokens: expected a positive integer, got " +
                              std::to_string(spec.shared_prefix->tokens));
    }
    // The system prompt is added to the drawn prompt: together they stay within the limit.
    const int64_t longest =
        spec.input.dist == LengthDist::kFixed ? spec.input.value : spec.input.max;
    if (spec.shared_prefix->tokens > kMaxRequestTokens - longest) {
      core::throw_input_error(path + ".shared_prefix.tokens: expected at most " +
                              std::to_string(kMaxRequestTokens - longest) + " (with prompts of up to " +
                              std::to_string(longest) + " tokens, at most " +
                              std::to_string(kMaxRequestTokens) + " in all), got " +
                              std::to_string(spec.shared_prefix->tokens));
    }
    const double f = spec.shared_prefix->fraction;
    if (!(f >= 0.0 && f <= 1.0)) {
      core::throw_input_error(path + ".shared_prefix.fraction: expected a number in [0, 1], got " +
                              number_text(f));
    }
  }
}

std::string describe(const GeneratorSpec& spec, uint64_t seed) {
  std::string s = "generator";
  if (!spec.preset.empty()) s += " preset " + spec.preset + ",";
  const char* process = spec.arrival.process == ArrivalProcess::kPoisson ? "poisson"
                        : spec.arrival.process == ArrivalProcess::kGamma ? "gamma"
                                                                         : "constant";
  s += std::string(" ") + process + " " + number_text(spec.arrival.rate_rps) + " req/s";
  if (spec.arrival.process == ArrivalProcess::kGamma) s += " cv " + number_text(spec.arrival.cv);
  s += ", " + std::to_string(spec.requests) + " requests, input " + describe_length(spec.input) +
       ", output " + describe_length(spec.output);
  if (spec.shared_prefix) {
    s += ", shared prefix " + std::to_string(spec.shared_prefix->tokens) + " tokens for " +
         number_text(spec.shared_prefix->fraction) + " of requests";
  }
  s += ", seed " + std::to_string(seed);
  return s;
}

Trace generate(const GeneratorSpec& spec, uint64_t seed) {
  validate_generator_spec(spec, "generator");
  // Empirical sources are read once; input and output drawn from the same file share one index
  // per request, so the joint (input, output) distribution of the trace is kept.
  std::shared_ptr<const Trace> in_trace, out_trace;
  if (spec.input.dist == LengthDist::kEmpirical) {
    in_trace = std::make_shared<Trace>(
        detail::read_length_samples(spec.input.trace, spec.input.trace_format));
  }
  const bool joint =
      spec.input.dist == LengthDist::kEmpirical && spec.output.dist == LengthDist::kEmpirical &&
      spec.input.trace == spec.output.trace && spec.input.trace_format == spec.output.trace_format;
  if (spec.output.dist == LengthDist::kEmpirical) {
    out_trace = joint ? in_trace
                      : std::make_shared<Trace>(detail::read_length_samples(
                            spec.output.trace, spec.output.trace_format));
  }
  const LengthSampler inputs(spec.input, in_trace, true);
  const LengthSampler outputs(spec.output, out_trace, false);

  Rng arrival_rng(seed, kArrivalStream);
  Rng input_rng(seed, kInputStream);
  Rng output_rng(seed, kOutputStream);
  Rng share_rng(seed, kSharedPrefixStream);

  const ArrivalSpec& a = spec.arrival;
  const double gamma_shape = 1.0 / (a.cv * a.cv);
  const double gamma_scale = 1.0 / (a.rate_rps * gamma_shape);

  Trace trace;
  trace.source = describe(spec, seed);
  trace.format = TraceFormat::kNative;
  trace.requests.reserve(static_cast<size_t>(spec.requests));
  double t_s = 0.0;
  for (int64_t i = 0; i < spec.requests; ++i) {
    core::Request r;
    if (i > 0) {
      switch (a.process) {
        case ArrivalProcess::kPoisson:
          t_s += arrival_rng.exponential(a.rate_rps);
          break;
        case ArrivalProcess::kGamma:
          t_s += arrival_rng.gamma(gamma_shape, gamma_scale);
          break;
        // Computed from i, not accumulated, so no rounding drift over long traces.
        case ArrivalProcess::kConstant:
          t_s = static_cast<double>(i) / a.rate_rps;
          break;
      }
    }
    // A Time is int64 nanoseconds: a rate so low that arrivals pass 292 years is bad input.
    if (!(t_s < 9.2e9)) {
      core::throw_input_error("generator: request " + std::to_string(i) + " would arrive after " +
                              number_text(t_s) + " s, beyond the 292 years a time can hold (rate " +
                              number_text(a.rate_rps) + " req/s): expected a higher rate");
    }
    r.arrival = core::Time::from_nanos(std::llround(t_s * 1e9));
    int64_t index = joint ? -1 : 0;
    int64_t* shared_index = joint ? &index : nullptr;
    r.prompt_tokens = inputs.draw(input_rng, shared_index);
    r.output_tokens = outputs.draw(joint ? input_rng : output_rng, shared_index);
    if (spec.shared_prefix) {
      const bool shares = share_rng.uniform01() < spec.shared_prefix->fraction;
      const int64_t system_tokens = shares ? spec.shared_prefix->tokens : 0;
      r.prompt_tokens += system_tokens;
      const int64_t blocks =
          (r.prompt_tokens + core::kPrefixHashBlockTokens - 1) / core::kPrefixHashBlockTokens;
      const int64_t shared_blocks =
          system_tokens / core::kPrefixHashBlockTokens;  // whole blocks only
      r.prefix_hashes.reserve(static_cast<size_t>(blocks));
      uint64_t parent = kPrefixHashRoot;
      for (int64_t b = 0; b < blocks; ++b) {
        const uint64_t content[3] = {b < shared_blocks ? kSharedBlockTag : kUniqueBlockTag,
                                     b < shared_blocks ? 0 : mix64(seed) ^ static_cast<uint64_t>(i),
                                     static_cast<uint64_t>(b)};
        parent = chain_block_hash(parent, content);
        r.prefix_hashes.push_back(parent);
      }
    }
    trace.requests.push_back(std::move(r));
  }
  trace.stats.rows = spec.requests;  // one generated row per request, none skipped
  normalize_requests(trace.requests);
  return trace;
}

std::filesystem::path resolve_data_path(const std::filesystem::path& path,
                                        const std::filesystem::path& base_dir,
                                        const std::string& json_path) {
  if (path.is_absolute()) {
    if (!std::filesystem::exists(path)) {
      core::throw_input_error(json_path + ": trace file '" + path.string() + "' does not exist");
    }
    return path;
  }
  const std::filesystem::path candidates[] = {base_dir / path,
                                              core::repository_dir() / path};
  for (const auto& c : candidates) {
    if (std::filesystem::exists(c)) return c;
  }
  core::throw_input_error(json_path + ": trace file '" + path.string() + "' not found (looked in " +
                          candidates[0].string() + " and " + candidates[1].string() + ")");
}

}  // namespace flowkv::traces
