// The calibrated cost model: the fit recovers known coefficients from synthetic profiles (knee
// included), the held-back error is the error of the points left out, the overheads come from
// the probe's measurements, a bad profile is an input error naming the file and the key, and a
// calibrated simulation is deterministic (same profile, byte-identical results).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "core/base/error.h"
#include "core/results/run.h"
#include "core/sched/load_scenario.h"
#include "sim/calibrated_model.h"
#include "sim/run.h"
#include "tests/calibration_fixtures.h"
#include "tests/scratch.h"

namespace flowkv::sim {
namespace {

namespace fs = std::filesystem;
using core::IterationPhase;
using core::LayoutKind;
using testing::KnownCosts;

const PhaseFit& fit_of(const CalibratedModel& m, IterationPhase phase) {
  for (const PhaseFit& f : m.fits()) {
    if (f.phase == phase) return f;
  }
  ADD_FAILURE() << "no fit for " << core::to_string(phase);
  return m.fits().front();
}

void expect_coefficients(const PhaseFit& f, const double* want, size_t n) {
  ASSERT_EQ(f.coefficients.size(), n);
  for (size_t i = 0; i < n; ++i) {
    EXPECT_NEAR(f.coefficients[i], want[i], 1e-6 * std::abs(want[i]) + 1e-15)
        << core::to_string(f.phase) << " " << CalibratedModel::feature_name(f.phase, i);
  }
}

TEST(Nnls, RecoversNonNegativeCoefficientsExactly) {
  std::vector<std::vector<double>> rows;
  std::vector<double> b;
  for (int i = 1; i <= 12; ++i) {
    const double x = i, y = i * i;
    rows.push_back({1.0, x, y});
    b.push_back(3.0 + 0.5 * x + 0.25 * y);
  }
  const std::vector<double> c = nnls(rows, b);
  EXPECT_NEAR(c[0], 3.0, 1e-9);
  EXPECT_NEAR(c[1], 0.5, 1e-9);
  EXPECT_NEAR(c[2], 0.25, 1e-9);
}

TEST(Nnls, KeepsCoefficientsNonNegative) {
  // The unconstrained least squares solution has a negative slope; NNLS sets it to 0 and fits
  // the constant alone (the mean of b).
  std::vector<std::vector<double>> rows;
  std::vector<double> b;
  for (int i = 0; i < 10; ++i) {
    rows.push_back({1.0, static_cast<double>(i)});
    b.push_back(10.0 - i);
  }
  const std::vector<double> c = nnls(rows, b);
  EXPECT_EQ(c[1], 0.0);
  EXPECT_NEAR(c[0], 5.5, 1e-9);
}

TEST(CalibratedModel, RecoversKnownCoefficientsPerPhase) {
  const KnownCosts k;
  const CalibratedModel m(testing::synthetic_profile(k));
  ASSERT_EQ(m.fits().size(), 3u);  // one layout, three phases
  expect_coefficients(fit_of(m, IterationPhase::kPrefill), k.p, 7);
  expect_coefficients(fit_of(m, IterationPhase::kDecode), k.d, 5);
  expect_coefficients(fit_of(m, IterationPhase::kMixed), k.m, 7);
  for (const PhaseFit& f : m.fits()) {
    EXPECT_EQ(f.knee.tokens, 0) << core::to_string(f.phase);
    EXPECT_EQ(f.knee.context, 0) << core::to_string(f.phase);
    EXPECT_LT(f.held.mean_abs, 1e-9);
    EXPECT_GT(f.held_back, 0);
  }
  EXPECT_NEAR(m.transfer_fit().coefficients[0], k.t[0], 1e-6 * k.t[0]);
  EXPECT_NEAR(m.transfer_fit().coefficients[1], k.t[1], 1e-6 * k.t[1]);
  EXPECT_NEAR(m.transfer_fit().coefficients[2], k.t[2], 1e-6 * k.t[2]);
  // A shape outside the grid is priced by the same formula.
  const core::IterationShape s = testing::shape({{777, 100}, {33, 0}}, 0, 0);
  EXPECT_NEAR(m.run_seconds(LayoutKind::kBlockContiguous, s), testing::known_time(k, s), 1e-9);
}

TEST(CalibratedModel, FindsTheKneesOfADecodeStepThatIsFlatThenLinear) {
  KnownCosts k;
  k.d[1] = 0;      // flat below the knee ...
  k.d[2] = 4e-5;   // ... then 40 us per step
  k.d_knee = 64;
  k.d[4] = 3e-8;   // and reading KV costs more once it outgrows a cache of 16,384 tokens
  k.d_context_knee = 16384;
  const CalibratedModel m(testing::synthetic_profile(k));
  const PhaseFit& f = fit_of(m, IterationPhase::kDecode);
  EXPECT_EQ(f.knee.tokens, 64);
  EXPECT_EQ(f.knee.context, 16384);
  expect_coefficients(f, k.d, 5);
}

TEST(CalibratedModel, HeldBackErrorIsTheErrorOfThePointsLeftOut) {
  const KnownCosts k;
  core::CalibrationProfile p = testing::synthetic_profile(k);
  // The held-back decode points are the 3rd, 8th, 13th, ... of the decode group (every fifth
  // from the third). Make the first of them 10% slower than the model: the fit does not see it.
  int64_t decode_index = 0;
  size_t target = 0;
  for (size_t i = 0; i < p.iterations.size(); ++i) {
    if (core::phase_of(p.iterations[i].shape) != IterationPhase::kDecode) continue;
    if (decode_index++ == 2) target = i;
  }
  p.iterations[target].median_s *= 1.1;
  const CalibratedModel m(p);
  const PhaseFit& f = fit_of(m, IterationPhase::kDecode);
  expect_coefficients(f, k.d, 5);  // the outlier was not fitted
  const double err = 1 / 1.1 - 1;  // predicted / measured - 1
  EXPECT_NEAR(f.held.max_abs, -err, 1e-9);
  EXPECT_NEAR(f.held.mean_abs, -err / static_cast<double>(f.held_back), 1e-9);
  EXPECT_NEAR(f.held.mean_signed, err / static_cast<double>(f.held_back), 1e-9);
  EXPECT_EQ(f.points + f.held_back, 18);
  EXPECT_EQ(f.held_back, 4);  // indices 2, 7, 12, 17
  EXPECT_LT(f.train.mean_abs, 1e-9);
}

TEST(CalibratedModel, OverheadsComeFromTheProbeRun) {
  const KnownCosts k;
  const CalibratedModel m(testing::synthetic_profile(k));
  EXPECT_NEAR(m.iteration_overhead_s(), k.iteration_gap_s, 1e-12);
  EXPECT_NEAR(m.transfer_overhead_s(), k.transfer_excess_s, 1e-9);
  const core::IterationShape s = testing::shape({}, 10, 100);
  EXPECT_NEAR(m.iteration_time(LayoutKind::kBlockContiguous, s).seconds(), testing::known_time(k, s) + k.iteration_gap_s, 2e-9);
  EXPECT_NEAR(m.transfer_seconds(4, 1 << 20), k.transfer_excess_s + k.t[0] + 4 * k.t[1] + k.t[2] * (1 << 20), 1e-9);
}

TEST(CalibratedModel, SameProfileSameCoefficientsBitForBit) {
  const core::CalibrationProfile p = testing::synthetic_profile(KnownCosts{});
  const CalibratedModel a(p), b(p);
  EXPECT_EQ(a.fit_json().dump(), b.fit_json().dump());
  for (size_t i = 0; i < a.fits().size(); ++i) EXPECT_EQ(a.fits()[i].coefficients, b.fits()[i].coefficients);
}

// ---- through the scenario ----

nlohmann::json tiny_scenario(const fs::path& profile) {
  nlohmann::json j = nlohmann::json::parse(R"({
    "name": "calibrated-test",
    "cluster": {"nodes": [{"gpu": "H100-SXM", "role": "prefill"}, {"gpu": "H100-SXM", "role": "decode"}]},
    "model": "tiny-llama", "kv": {"num_blocks": 4096},
    "workload": {"generator": {"arrival": {"process": "poisson", "rate": 20}, "requests": 100,
                 "input": {"dist": "uniform", "min": 16, "max": 900}, "output": {"dist": "uniform", "min": 2, "max": 60}}},
    "seed": 3})");
  j["cost_model"] = {{"kind", "calibrated"}, {"profile", profile.string()}};
  return j;
}

std::string error_of(const nlohmann::json& j) {
  try {
    core::parse_scenario(j, "test", ".");
  } catch (const core::Error& e) {
    EXPECT_EQ(e.exit_code(), 2) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

TEST(CalibratedScenario, SimulationIsDeterministicAndStoresTheFit) {
  testing::TempDir tmp;
  const fs::path file = tmp.path() / "profile.json";
  testing::write_profile(testing::synthetic_profile(KnownCosts{}), file);
  const core::Scenario s = core::parse_scenario(tiny_scenario(file), "test", ".");
  ASSERT_EQ(s.cost.kind, core::CostModelKind::kCalibrated);
  EXPECT_EQ(s.resolved["cost_model"]["kind"], "calibrated");
  const traces::Trace trace = load_scenario_trace(s);
  ASSERT_GT(trace.requests.size(), 20u);
  const SimResult a = simulate(s, trace), b = simulate(s, trace);
  EXPECT_EQ(a.summary.dump(), b.summary.dump());
  ASSERT_TRUE(a.summary.contains("cost_model_fit"));
  EXPECT_EQ(a.summary["cost_model_fit"]["device"], "synthetic");
  EXPECT_EQ(a.metrics.completed, static_cast<int64_t>(trace.requests.size()));
  const fs::path da = tmp.path() / "a", db = tmp.path() / "b";
  core::write_run_files(a, s, da);
  core::write_run_files(b, s, db);
  EXPECT_EQ(testing::read_file(da / "requests.csv"), testing::read_file(db / "requests.csv"));
  // The calibrated times are what the run charged: a decode-only iteration of the synthetic
  // costs makes each TPOT at least the constant plus the overhead.
  EXPECT_GT(a.metrics.tpot.mean, KnownCosts{}.d[0] + KnownCosts{}.iteration_gap_s);
}

TEST(CalibratedScenario, RooflineStaysTheDefault) {
  nlohmann::json j = tiny_scenario("x");
  j.erase("cost_model");
  const core::Scenario s = core::parse_scenario(j, "test", ".");
  EXPECT_EQ(s.cost.kind, core::CostModelKind::kRoofline);
  EXPECT_FALSE(s.resolved["cost_model"].contains("kind"));
  EXPECT_EQ(calibrated_model_for(s), nullptr);
}

TEST(CalibratedScenario, BadProfilesAreInputErrorsNamingTheFileAndKey) {
  testing::TempDir tmp;
  // Missing file.
  std::string e = error_of(tiny_scenario(tmp.path() / "nope.json"));
  EXPECT_NE(e.find("cost_model.profile"), std::string::npos) << e;
  EXPECT_NE(e.find("nope.json"), std::string::npos) << e;
  // Not JSON: the file and its line.
  const fs::path bad = tmp.write("bad.json", "{\n  \"format\": \"flowkv-profile\",\n  oops\n}\n");
  e = error_of(tiny_scenario(bad));
  EXPECT_NE(e.find("bad.json:3"), std::string::npos) << e;
  // A missing key: the file and the key's path.
  nlohmann::ordered_json j = core::profile_to_json(testing::synthetic_profile(KnownCosts{}));
  j["iterations"][4].erase("median_s");
  const fs::path missing = tmp.write("missing.json", j.dump());
  e = error_of(tiny_scenario(missing));
  EXPECT_NE(e.find("missing.json: iterations[4].median_s: missing"), std::string::npos) << e;
  // A mistyped key.
  j = core::profile_to_json(testing::synthetic_profile(KnownCosts{}));
  j["transfers"][0]["calls"] = "many";
  e = error_of(tiny_scenario(tmp.write("typed.json", j.dump())));
  EXPECT_NE(e.find("typed.json: transfers[0].calls: expected"), std::string::npos) << e;
  // Another model.
  testing::write_profile(testing::synthetic_profile(KnownCosts{}, "small-llama"), tmp.path() / "small.json");
  e = error_of(tiny_scenario(tmp.path() / "small.json"));
  EXPECT_NE(e.find("small.json: model."), std::string::npos) << e;
  EXPECT_NE(e.find("tiny-llama"), std::string::npos) << e;
  // Another layout than the one profiled.
  nlohmann::json paged = tiny_scenario(tmp.path() / "contiguous.json");
  testing::write_profile(testing::synthetic_profile(KnownCosts{}), tmp.path() / "contiguous.json");
  paged["kv"]["layout"] = "paged";
  e = error_of(paged);
  EXPECT_NE(e.find("contiguous.json: iterations: 0 prefill points of the paged layout"), std::string::npos) << e;
  // A profile without "kind": "calibrated", and a calibrated model without a profile.
  nlohmann::json no_kind = tiny_scenario("x");
  no_kind["cost_model"].erase("kind");
  EXPECT_NE(error_of(no_kind).find("cost_model.profile"), std::string::npos);
  nlohmann::json no_profile = tiny_scenario("x");
  no_profile["cost_model"].erase("profile");
  EXPECT_NE(error_of(no_profile).find("cost_model.profile: missing"), std::string::npos);
  nlohmann::json bad_kind = tiny_scenario("x");
  bad_kind["cost_model"]["kind"] = "magic";
  EXPECT_NE(error_of(bad_kind).find("cost_model.kind"), std::string::npos);
}

}  // namespace
}  // namespace flowkv::sim
