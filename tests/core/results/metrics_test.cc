// Metric definitions (vLLM's serving benchmark): computed on hand-made records whose answers are
// worked out here, and the ITL histogram's accuracy bound.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <random>

#include "core/base/streaming_histogram.h"
#include "core/results/metrics.h"
#include "core/results/result_files.h"
#include "core/sched/load_scenario.h"

namespace flowkv::core {
namespace {

Time ms(int64_t v) { return Time::from_nanos(v * 1'000'000); }

Scenario tiny_scenario() {
  nlohmann::json j = nlohmann::json::parse(R"({
    "cluster": {"nodes": [{"gpu": "H100-SXM", "count": 1, "role": "colocated"}]},
    "model": "llama-3.1-8b", "workload": {"trace": "x.csv"}, "slo": {"ttft_s": 0.5, "tpot_s": 0.05}})");
  return parse_scenario(j, "t", ".");
}

RequestRecord completed(uint64_t id, int64_t arrival, int64_t first, int64_t finish, int32_t out) {
  RequestRecord r;
  r.id = RequestId{id};
  r.prompt_tokens = 100;
  r.output_tokens = out;
  r.tokens = out;
  r.arrival = ms(arrival);
  r.queued = ms(arrival);
  r.prefill_start = ms(arrival + 10);
  r.first_token = ms(first);
  r.last_token = ms(finish);
  r.finish = ms(finish);
  r.status = RequestStatus::kCompleted;
  r.prefill_node = 0;
  r.decode_node = 0;
  return r;
}

TEST(Metrics, VllmDefinitions) {
  const Scenario s = tiny_scenario();
  std::vector<RequestRecord> recs;
  recs.push_back(completed(0, 0, 200, 1200, 11));      // TTFT 0.2, TPOT 0.1 -> misses the TPOT SLO
  recs.push_back(completed(1, 1000, 1400, 1800, 21));  // TTFT 0.4, TPOT 0.02 -> good
  recs.push_back(completed(2, 2000, 2100, 2100, 1));   // TTFT 0.1, one token -> good (TTFT only)
  RequestRecord f;
  f.id = RequestId{3};
  f.prompt_tokens = 5;
  f.output_tokens = 5;
  f.arrival = ms(2500);
  f.finish = ms(2500);
  f.status = RequestStatus::kFailed;
  f.failure = FailureReason::kTooLargeForDecode;
  recs.push_back(f);
  StreamingHistogram itl;
  const RunMetrics m = compute_metrics(s, recs, itl, {});
  EXPECT_EQ(m.total, 4);
  EXPECT_EQ(m.completed, 3);
  EXPECT_EQ(m.failed, 1);
  EXPECT_EQ(m.failed_by_reason.at("request_larger_than_any_decode_pool"), 1);
  EXPECT_NEAR(m.ttft.mean, (0.2 + 0.4 + 0.1) / 3, 1e-12);
  EXPECT_NEAR(m.ttft.p50, 0.2, 1e-12);
  EXPECT_NEAR(m.ttft.p90, 0.2 + 0.8 * 0.2, 1e-12);  // linear interpolation between 0.2 and 0.4
  EXPECT_EQ(m.tpot.count, 2);                      // the one-token request has no TPOT
  EXPECT_NEAR(m.tpot.mean, (0.1 + 0.02) / 2, 1e-12);
  EXPECT_NEAR(m.e2e.mean, (1.2 + 0.8 + 0.1) / 3, 1e-12);
  EXPECT_NEAR(m.queue.mean, 0.01, 1e-12);
  EXPECT_NEAR(m.makespan_s, 2.5, 1e-12);
  EXPECT_NEAR(m.requests_per_s, 3 / 2.5, 1e-12);
  EXPECT_NEAR(m.output_tokens_per_s, 33 / 2.5, 1e-12);
  EXPECT_NEAR(m.goodput_rps, 2 / 2.5, 1e-12);
  EXPECT_NEAR(m.slo_attainment, 2.0 / 3, 1e-12);
}

TEST(Metrics, PercentileInterpolatesLikeNumpy) {
  const std::vector<double> v = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(percentile_sorted(v, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(percentile_sorted(v, 0.99), 3.97);
  EXPECT_DOUBLE_EQ(percentile_sorted(v, 0.0), 1);
  EXPECT_DOUBLE_EQ(percentile_sorted(v, 1.0), 4);
}

TEST(Metrics, StatOfSelectsTheSamePercentilesAsSorting) {
  std::mt19937_64 rng(9);
  for (size_t n : {1u, 2u, 3u, 10u, 101u, 4096u}) {
    std::vector<double> v;
    for (size_t i = 0; i < n; ++i) v.push_back(static_cast<double>(rng() % 1000) / 7.0);
    std::vector<double> sorted = v;
    std::sort(sorted.begin(), sorted.end());
    const Stat s = stat_of(v);
    EXPECT_EQ(s.count, static_cast<int64_t>(n));
    EXPECT_DOUBLE_EQ(s.p50, percentile_sorted(sorted, 0.5)) << n;
    EXPECT_DOUBLE_EQ(s.p90, percentile_sorted(sorted, 0.9)) << n;
    EXPECT_DOUBLE_EQ(s.p99, percentile_sorted(sorted, 0.99)) << n;
  }
}

TEST(StreamingHistogram, QuantilesWithinHalfAPercentAndExactMean) {
  std::mt19937_64 rng(3);
  StreamingHistogram h;
  std::vector<double> all;
  double sum = 0;
  for (int i = 0; i < 200000; ++i) {
    // Spread over six decades: 100 ns .. 100 ms.
    const double e = static_cast<double>(rng() % 1000000) / 1000000.0 * 6 + 2;
    const int64_t ns = static_cast<int64_t>(std::pow(10.0, e));
    h.add(Duration::nanos(ns));
    all.push_back(static_cast<double>(ns) * 1e-9);
    sum += static_cast<double>(ns);
  }
  std::sort(all.begin(), all.end());
  for (double q : {0.01, 0.5, 0.9, 0.99, 0.999}) {
    const double exact = all[static_cast<size_t>(std::ceil(q * all.size())) - 1];
    EXPECT_NEAR(h.quantile_seconds(q), exact, exact * 0.004) << q;
  }
  EXPECT_NEAR(h.mean_seconds(), sum / 200000 * 1e-9, 1e-15);
  EXPECT_EQ(h.count(), 200000);
  // The population standard deviation, exact (vllm.json's std_itl_ms).
  const double mean = sum / 200000 * 1e-9;
  double sq = 0;
  for (const double v : all) sq += (v - mean) * (v - mean);
  EXPECT_NEAR(h.std_seconds(), std::sqrt(sq / 200000), 1e-12);
}

TEST(StreamingHistogram, StandardDeviationOfWeightedSamplesAndMerges) {
  StreamingHistogram a, b;
  a.add(Duration::nanos(1000), 3);  // 1, 1, 1 us
  b.add(Duration::nanos(5000));     // 5 us
  a.merge(b);
  // mean 2 us; squares of deviations 1+1+1+9 = 12 us^2 over 4: std sqrt(3) us.
  EXPECT_NEAR(a.std_seconds(), std::sqrt(3.0) * 1e-6, 1e-15);
  EXPECT_EQ(StreamingHistogram{}.std_seconds(), 0.0);
}

TEST(StreamingHistogram, SmallValuesAreExactAndWeightsCount) {
  StreamingHistogram h;
  h.add(Duration::nanos(7), 3);
  h.add(Duration::nanos(300));
  EXPECT_EQ(h.count(), 4);
  EXPECT_DOUBLE_EQ(h.quantile_seconds(0.5), 7e-9);
  EXPECT_DOUBLE_EQ(h.quantile_seconds(1.0), 300e-9);
}

TEST(ResultFiles, CsvRowsHaveEveryColumn) {
  const Scenario s = tiny_scenario();
  std::vector<RequestRecord> recs = {completed(0, 0, 200, 1200, 11)};
  std::ostringstream out;
  write_requests_csv(out, recs, s);
  const std::string text = out.str();
  const auto header_cols = std::count(kRequestsCsvHeader, kRequestsCsvHeader + std::strlen(kRequestsCsvHeader), ',');
  const std::string row = text.substr(text.find('\n') + 1);
  EXPECT_EQ(std::count(row.begin(), row.end(), ','), header_cols);
  EXPECT_NE(row.find("0,completed,,100,11,11,C0,C0,0.000000000,0.000000000,0.010000000,"), std::string::npos) << row;
  EXPECT_NE(row.find(",0.200000000,0.100000000,1.200000000,"), std::string::npos) << row;  // ttft, tpot, e2e
}

TEST(ResultFiles, Round9IsStable) {
  EXPECT_EQ(round9(0.1 + 0.2), 0.3);
  EXPECT_EQ(round9(123456789.123), 123456789.0);
  EXPECT_EQ(round9(0.0), 0.0);
}

}  // namespace
}  // namespace flowkv::core
