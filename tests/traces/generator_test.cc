// Synthetic workloads: determinism (same seed, same bytes), statistics that approach what was
// asked for, presets, shared prefixes, and JSON specs with path-naming errors.
#include "traces/generator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/traces/test_files.h"
#include "traces/random.h"
#include "traces/trace_summary.h"
#include "traces/trace_writer.h"

namespace flowkv::traces {
namespace {

using nlohmann::json;
using testing::input_error_of;

GeneratorSpec lognormal_spec(ArrivalProcess process, double rate, int64_t n) {
  GeneratorSpec s;
  s.arrival.process = process;
  s.arrival.rate_rps = rate;
  s.requests = n;
  s.input.dist = LengthDist::kLogNormal;
  s.input.mean = 2000;
  s.input.std = 800;
  s.input.min = 1;
  s.input.max = 1'000'000;
  s.output.dist = LengthDist::kUniform;
  s.output.min = 10;
  s.output.max = 30;
  return s;
}

double mean_gap_s(const Trace& t) {
  return (t.requests.back().arrival - t.requests.front().arrival).seconds() /
         static_cast<double>(t.requests.size() - 1);
}

double gap_cv(const Trace& t) {
  const double mean = mean_gap_s(t);
  double sq = 0.0;
  for (size_t i = 1; i < t.requests.size(); ++i) {
    const double g = (t.requests[i].arrival - t.requests[i - 1].arrival).seconds() - mean;
    sq += g * g;
  }
  return std::sqrt(sq / static_cast<double>(t.requests.size() - 2)) / mean;
}

// Reproducibility is the contract: the same spec and seed give the same bytes.
TEST(Generator, SameSeedIsByteIdenticalOtherSeedDiffers) {
  GeneratorSpec spec = lognormal_spec(ArrivalProcess::kGamma, 3.0, 2000);
  spec.arrival.cv = 2.0;
  spec.shared_prefix = SharedPrefixSpec{1024, 0.5};
  const std::string a = format_trace(generate(spec, 42), TraceFormat::kNative);
  const std::string b = format_trace(generate(spec, 42), TraceFormat::kNative);
  const std::string c = format_trace(generate(spec, 43), TraceFormat::kNative);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

// Regression: byte-identical workloads across platforms and versions. This is the output of the
// generator when it was written (gamma arrivals, log-normal and uniform lengths, a shared
// prefix, seed 42). If it changes, every seeded scenario changes: update it only on purpose.
TEST(Generator, GoldenOutputIsPinned) {
  GeneratorSpec s;
  s.arrival.process = ArrivalProcess::kGamma;
  s.arrival.rate_rps = 2;
  s.arrival.cv = 2;
  s.requests = 4;
  s.input.dist = LengthDist::kLogNormal;
  s.input.mean = 2000;
  s.input.std = 800;
  s.output.dist = LengthDist::kUniform;
  s.output.min = 1;
  s.output.max = 100;
  s.shared_prefix = SharedPrefixSpec{512, 0.5};
  EXPECT_EQ(format_trace(generate(s, 42), TraceFormat::kNative),
            "# flowkv-trace v1\n"
            "arrival_ns,prompt_tokens,output_tokens,slo_class,prefix_hashes\n"
            "0,1678,13,0,7624599718577929289 13700503503098045650 8997131426479792980 "
            "1336768658059441864\n"
            "86860544,1634,81,0,1185844523649250749 4586350243208098290 3742752502515111053 "
            "11201719654468456859\n"
            "89051101,1499,47,0,4408467520355964990 16846552044964869120 2376517892408945944\n"
            "101509014,2113,98,0,13141665776737598833 318537060610380214 2510867882044504431 "
            "8136886947900870378 18027708734024809859\n");
}

TEST(Generator, StreamsAreIndependentAndTheEngineIsTheStandardOne) {
  // The standard fixes mt19937_64's 10000th output for the default seed; our variates build on it.
  std::mt19937_64 engine;
  engine.discard(9999);
  EXPECT_EQ(engine(), 9981545732273789042ull);
  Rng a(7, 1);
  Rng b(7, 1);
  Rng other_stream(7, 2);
  const uint64_t first = a.next_u64();
  EXPECT_EQ(first, b.next_u64());
  EXPECT_NE(first, other_stream.next_u64());
}

TEST(Generator, DistributionsHaveTheRequestedMoments) {
  Rng rng(123, 9);
  const int n = 200000;
  double sum_e = 0, sum_n = 0, sq_n = 0, sum_g = 0, sq_g = 0, sum_l = 0, sq_l = 0;
  for (int i = 0; i < n; ++i) {
    sum_e += rng.exponential(4.0);
    const double z = rng.normal();
    sum_n += z;
    sq_n += z * z;
    const double g = rng.gamma(0.25, 2.0);  // mean 0.5, variance 1
    sum_g += g;
    sq_g += g * g;
    const double l = rng.lognormal_mean_std(100.0, 40.0);
    sum_l += l;
    sq_l += l * l;
  }
  EXPECT_NEAR(sum_e / n, 0.25, 0.003);
  EXPECT_NEAR(sum_n / n, 0.0, 0.01);
  EXPECT_NEAR(sq_n / n, 1.0, 0.01);
  EXPECT_NEAR(sum_g / n, 0.5, 0.01);
  EXPECT_NEAR(sq_g / n - (sum_g / n) * (sum_g / n), 1.0, 0.05);
  EXPECT_NEAR(sum_l / n, 100.0, 0.5);
  EXPECT_NEAR(std::sqrt(sq_l / n - (sum_l / n) * (sum_l / n)), 40.0, 0.5);
  for (int i = 0; i < 1000; ++i) {
    const int64_t v = rng.uniform_int(-3, 3);
    ASSERT_GE(v, -3);
    ASSERT_LE(v, 3);
  }
}

TEST(Generator, PoissonRateAndLengthsApproachTheSpec) {
  const Trace t = generate(lognormal_spec(ArrivalProcess::kPoisson, 5.0, 20000), 1);
  ASSERT_EQ(t.requests.size(), 20000u);
  EXPECT_EQ(t.requests.front().arrival, core::Time::zero());
  EXPECT_NEAR(1.0 / mean_gap_s(t), 5.0, 0.15);
  EXPECT_NEAR(gap_cv(t), 1.0, 0.03);
  const TraceSummary s = summarize(t);
  EXPECT_NEAR(s.input_tokens.mean, 2000, 20);
  EXPECT_NEAR(s.output_tokens.mean, 20, 0.2);
  EXPECT_FALSE(s.prefix.has_value());
  for (const auto& r : t.requests) {
    ASSERT_GE(r.output_tokens, 10);
    ASSERT_LE(r.output_tokens, 30);
  }
}

TEST(Generator, GammaBurstinessAndConstantSpacing) {
  GeneratorSpec bursty = lognormal_spec(ArrivalProcess::kGamma, 2.0, 40000);
  bursty.arrival.cv = 3.0;
  const Trace b = generate(bursty, 5);
  EXPECT_NEAR(1.0 / mean_gap_s(b), 2.0, 0.1);
  EXPECT_NEAR(gap_cv(b), 3.0, 0.2);

  const Trace c = generate(lognormal_spec(ArrivalProcess::kConstant, 4.0, 9), 5);
  for (size_t i = 0; i < c.requests.size(); ++i) {
    EXPECT_EQ(c.requests[i].arrival.ns(), static_cast<int64_t>(i) * 250'000'000);
  }
}

TEST(Generator, FixedPresets) {
  for (const auto& [name, input] : std::map<std::string, int64_t>{
           {"fixed-1k", 1000}, {"fixed-5k", 5000}, {"fixed-10k", 10000}}) {
    GeneratorSpec spec = preset_spec(name);
    spec.requests = 50;
    const Trace t = generate(spec, 3);
    ASSERT_EQ(t.requests.size(), 50u);
    for (const auto& r : t.requests) {
      ASSERT_EQ(r.prompt_tokens, input) << name;
      ASSERT_EQ(r.output_tokens, 256) << name;
    }
  }
}

TEST(Generator, LongBenchPresetsFollowTheirLengthStatistics) {
  // Means in tokens: published words x 1.3 (see generator.cc); outputs are capped at 512.
  const std::map<std::string, double> input_mean = {
      {"gov_report", 8734 * 1.3}, {"multi_news", 2113 * 1.3}, {"qmsum", 10614 * 1.3}};
  for (const auto& [name, mean] : input_mean) {
    GeneratorSpec spec = preset_spec(name);
    spec.requests = 20000;
    const TraceSummary s = summarize(generate(spec, 11));
    EXPECT_NEAR(s.input_tokens.mean / mean, 1.0, 0.03) << name;
    EXPECT_LE(s.input_tokens.max, 32000) << name;
    EXPECT_LE(s.output_tokens.max, 512) << name;
  }
  EXPECT_EQ(preset_names().size(), 6u);
  const std::string msg = input_error_of([] { preset_spec("sharegpt"); });
  EXPECT_EQ(msg,
            "unknown generator preset 'sharegpt' (expected one of: fixed-10k, fixed-1k, "
            "fixed-5k, gov_report, multi_news, qmsum)");
}

// Requests that carry the system prompt share its whole blocks' hashes; nothing else is shared.
TEST(Generator, SharedPrefixGivesIdenticalLeadingHashes) {
  GeneratorSpec spec = lognormal_spec(ArrivalProcess::kPoisson, 1.0, 4000);
  spec.input.dist = LengthDist::kFixed;
  spec.input.value = 600;
  spec.shared_prefix = SharedPrefixSpec{1100, 0.25};  // 2 whole blocks + 76 tokens
  const Trace t = generate(spec, 9);
  std::vector<uint64_t> system_blocks;
  int sharing = 0;
  for (const auto& r : t.requests) {
    const bool shares = r.prompt_tokens == 1700;
    ASSERT_TRUE(shares || r.prompt_tokens == 600);
    ASSERT_EQ(static_cast<int64_t>(r.prefix_hashes.size()), (r.prompt_tokens + 511) / 512);
    if (!shares) continue;
    ++sharing;
    if (system_blocks.empty()) {
      system_blocks.assign(r.prefix_hashes.begin(), r.prefix_hashes.begin() + 2);
    } else {
      ASSERT_EQ(r.prefix_hashes[0], system_blocks[0]);
      ASSERT_EQ(r.prefix_hashes[1], system_blocks[1]);
      ASSERT_NE(r.prefix_hashes[2], t.requests.front().prefix_hashes.back());
    }
  }
  EXPECT_NEAR(sharing / 4000.0, 0.25, 0.03);
  const TraceSummary s = summarize(t);
  ASSERT_TRUE(s.prefix.has_value());
  // Every sharer but the first hits 2 blocks; nothing else hits.
  EXPECT_EQ(s.prefix->hit_blocks, 2 * (sharing - 1));
}

TEST(Generator, EmpiricalLengthsResampleATraceJointly) {
  testing::TempDir dir;
  const auto src = dir.write("src.csv",
                             "arrived_at,num_prefill_tokens,num_decode_tokens\n"
                             "0,100,7\n1,200,9\n2,300,11\n");
  GeneratorSpec spec;
  spec.requests = 3000;
  spec.input.dist = LengthDist::kEmpirical;
  spec.input.trace = src;
  spec.output = spec.input;
  const Trace t = generate(spec, 4);
  std::map<int64_t, int> seen;
  for (const auto& r : t.requests) {
    // Drawn from the same row, so input and output stay paired as in the source.
    ASSERT_EQ(r.output_tokens, 7 + (r.prompt_tokens / 100 - 1) * 2) << r.prompt_tokens;
    ++seen[r.prompt_tokens];
  }
  ASSERT_EQ(seen.size(), 3u);
  for (const auto& [len, n] : seen) EXPECT_NEAR(n / 3000.0, 1.0 / 3, 0.04) << len;
}

TEST(Generator, EmpiricalLengthsFromALengthsOnlyCsv) {
  testing::TempDir dir;
  const auto src = dir.write("stats.csv",
                             "num_prefill_tokens,num_decode_tokens,num_total_tokens,pd_ratio\n"
                             "3772,54,3826,69.85\n2015,156,2171,12.9\n");
  GeneratorSpec spec;
  spec.requests = 200;
  spec.input.dist = LengthDist::kEmpirical;
  spec.input.trace = src;
  spec.output = spec.input;
  for (const auto& r : generate(spec, 2).requests) {
    ASSERT_TRUE((r.prompt_tokens == 3772 && r.output_tokens == 54) ||
                (r.prompt_tokens == 2015 && r.output_tokens == 156));
  }
  // Not a trace on its own: no arrival times; the error says what to do with it instead.
  const std::string refused = input_error_of([&] { read_trace(src); });
  EXPECT_NE(refused.find("a lengths-only file"), std::string::npos) << refused;
  EXPECT_NE(refused.find("\"dist\": \"empirical\""), std::string::npos) << refused;
  const auto arxiv =
      testing::real_trace("arxiv_summarization_stats_llama2_tokenizer_filtered_v2.csv");
  if (arxiv.empty()) return;
  spec.input.trace = arxiv;
  spec.output.trace = arxiv;
  spec.requests = 20000;
  // The file's own means (28,257 rows, computed with Python's csv module): prefill 2,588.1,
  // decode 291.4. Resampling 20,000 rows must land close to them.
  const TraceSummary s = summarize(generate(spec, 3));
  EXPECT_NEAR(s.input_tokens.mean, 2588.1, 30);
  EXPECT_NEAR(s.output_tokens.mean, 291.4, 6);
  EXPECT_LE(s.input_tokens.max, 4054);
}

TEST(GeneratorJson, FullSpecFromTheDocs) {
  const json j = json::parse(R"({"arrival": {"process": "poisson", "rate": 2.0}, "requests": 1000,
      "input": {"dist": "lognormal", "mean": 2000, "std": 800, "min": 16, "max": 32000},
      "output": {"dist": "fixed", "value": 256}, "shared_prefix": {"tokens": 1024, "fraction": 0.5}})");
  const GeneratorSpec s = parse_generator_spec(j, "workload.generator", ".");
  EXPECT_EQ(s.arrival.process, ArrivalProcess::kPoisson);
  EXPECT_EQ(s.arrival.rate_rps, 2.0);
  EXPECT_EQ(s.requests, 1000);
  EXPECT_EQ(s.input.dist, LengthDist::kLogNormal);
  EXPECT_EQ(s.input.min, 16);
  EXPECT_EQ(s.input.max, 32000);
  EXPECT_EQ(s.output.value, 256);
  ASSERT_TRUE(s.shared_prefix.has_value());
  EXPECT_EQ(s.shared_prefix->tokens, 1024);
  const Trace t = generate(s, 1);
  for (const auto& r : t.requests) {
    ASSERT_GE(r.prompt_tokens, 16);
    ASSERT_LE(r.prompt_tokens, 32000 + 1024);
  }
}

TEST(GeneratorJson, PresetWithOverrides) {
  const GeneratorSpec s = parse_generator_spec(
      json::parse(R"({"preset": "fixed-5k", "rate": 1.5, "requests": 200})"), "g", ".");
  EXPECT_EQ(s.preset, "fixed-5k");
  EXPECT_EQ(s.input.value, 5000);
  EXPECT_EQ(s.arrival.rate_rps, 1.5);
  EXPECT_EQ(s.requests, 200);
  const GeneratorSpec g = parse_generator_spec(
      json::parse(R"({"preset": "qmsum", "arrival": {"process": "gamma", "cv": 4}})"), "g", ".");
  EXPECT_EQ(g.arrival.process, ArrivalProcess::kGamma);
  EXPECT_EQ(g.arrival.cv, 4.0);
  EXPECT_EQ(g.input.dist, LengthDist::kLogNormal);
}

TEST(GeneratorJson, ErrorsNameTheJsonPath) {
  auto error = [](const char* text) {
    return input_error_of(
        [&] { parse_generator_spec(json::parse(text), "workload.generator", "."); });
  };
  EXPECT_EQ(
      error(
          R"({"arrival": {"process": "poisson", "rate": -1}, "input": {"dist": "fixed", "value": 1}, "output": {"dist": "fixed", "value": 1}})"),
      "workload.generator.arrival.rate: expected a positive number, got -1");
  EXPECT_EQ(error(R"({"preset": "fixed-1k", "requests": 0})"),
            "workload.generator.requests: expected a positive integer, got 0");
  EXPECT_EQ(error(R"({"preset": "fixed-1k", "input": {"dist": "lognormal", "mean": 10}})"),
            "workload.generator.input.std: missing (required by \"lognormal\")");
  EXPECT_EQ(error(R"({"preset": "fixed-1k", "input": {"dist": "uniform", "min": 10, "max": 5}})"),
            "workload.generator.input.max: expected at least min (10), got 5");
  EXPECT_EQ(
      error(R"({"preset": "fixed-1k", "output": {"dist": "zipf"}})"),
      "workload.generator.output.dist: expected one of \"fixed\", \"uniform\", \"lognormal\", "
      "\"empirical\", got \"zipf\"");
  EXPECT_EQ(error(R"({"preset": "fixed-1k", "shared_prefix": {"tokens": 64, "fraction": 1.5}})"),
            "workload.generator.shared_prefix.fraction: expected a number in [0, 1], got 1.5");
  EXPECT_EQ(
      error(R"({"preset": "fixed-1k", "arrival": {"process": "poisson", "cv": 2}})"),
      "workload.generator.arrival.cv: only the gamma process takes a coefficient of variation "
      "(Poisson's is 1, constant's 0)");
  EXPECT_EQ(error(R"({"preset": "fixed-1k", "rate": 2, "arrival": {"rate": 3}})"),
            "workload.generator.rate: given twice (also as workload.generator.arrival.rate)");
  EXPECT_EQ(error(R"({"input": {"dist": "fixed", "value": 1}})"),
            "workload.generator.output: missing (give \"input\" and \"output\" length "
            "distributions, or a \"preset\")");
  EXPECT_EQ(error(R"({"preset": "fixed-1k", "burst": 1})"),
            "workload.generator: unknown key 'burst' (expected one of: preset, rate, requests, "
            "arrival, input, output, shared_prefix)");
  EXPECT_EQ(
      error(R"({"preset": "fixed-1k", "input": {"dist": "empirical", "trace": "no/such.csv"}})")
          .rfind("workload.generator.input.trace: trace file 'no/such.csv' not found (looked in",
                 0),
      0u);
}

}  // namespace
}  // namespace flowkv::traces
