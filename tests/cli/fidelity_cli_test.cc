// `flowkv fidelity LIVE_DIR SIM_DIR` on two result folders of known content gives the known
// errors (per metric, per request, per node's iterations); a simulation that does not replay the
// live arrivals, or a folder that is not a result folder, exits 2 with a message saying why.
// And `flowkv live --compare-sim` runs the simulation and the comparison in one go.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/calibration_fixtures.h"
#include "tests/flowkv_cli.h"

namespace {

using flowkv::testing::run_flowkv;
namespace fs = std::filesystem;
using nlohmann::json;

class FidelityCli : public flowkv::testing::ScratchDirTest {
 protected:
  // A live folder and a simulated one: 5 requests; the simulation's TTFT is 10% high, its TPOT
  // exact, its E2E 10% low; request 4 failed in the simulation.
  void write_runs(double sim_arrival_factor = 1.0) {
    live_ = dir_ / "live";
    sim_ = dir_ / "sim";
    fs::create_directories(live_);
    fs::create_directories(sim_);
    auto stats = [](double m) { return json{{"mean", m}, {"p50", m}, {"p90", m}, {"p99", m}}; };
    std::ofstream(live_ / "summary.json")
        << json{{"live", {{"time_scale", 2.0}}},
                {"itl_s", stats(0.01)},
                {"scenario", {{"workload", json::object()}, {"kv", {{"layout", "contiguous"}}}}}}.dump();
    std::ofstream(sim_ / "summary.json")
        << json{{"itl_s", stats(0.0105)},
                {"scenario", {{"workload", {{"rate_scale", 2.0}}}, {"kv", {{"layout", "contiguous"}}}}}}.dump();
    std::ofstream live_csv(live_ / "requests.csv"), sim_csv(sim_ / "requests.csv");
    live_csv << "id,status,arrival_s,ttft_s,tpot_s,e2e_s\n";
    sim_csv << "id,status,arrival_s,ttft_s,tpot_s,e2e_s\n";
    char line[200];
    for (int i = 0; i < 5; ++i) {
      const double arrival = 0.5 * i, ttft = 0.1 * (i + 1), tpot = 0.01 * (i + 1), e2e = 1.0 * (i + 1);
      std::snprintf(line, sizeof line, "%d,completed,%.9f,%.9f,%.9f,%.9f\n", i, arrival, ttft, tpot, e2e);
      live_csv << line;
      if (i == 4) {
        std::snprintf(line, sizeof line, "%d,failed,%.9f,,,\n", i, arrival * sim_arrival_factor);
      } else {
        std::snprintf(line, sizeof line, "%d,completed,%.9f,%.9f,%.9f,%.9f\n", i, arrival * sim_arrival_factor, ttft * 1.1,
                      tpot, e2e * 0.9);
      }
      sim_csv << line;
    }
  }
  fs::path live_, sim_;
};

TEST_F(FidelityCli, KnownRunsGiveTheKnownErrors) {
  write_runs();
  // Iterations: P0's measured times are 1.25 x the model's, D0's 0.8 x.
  const flowkv::testing::KnownCosts k;
  const fs::path profile = dir_ / "profile.json";
  flowkv::testing::write_profile(flowkv::testing::synthetic_profile(k), profile);
  const auto prefill = flowkv::testing::shape({{100, 0}}, 0, 0);
  const auto decode = flowkv::testing::shape({}, 4, 100);
  std::ofstream it(live_ / "iterations.csv");
  it << "node,submitted_s,started_s,finished_s,ok,prefill_items,prefill_tokens,prefill_context,attention_pairs,"
        "decode_items,decode_context\n";
  char line[300];
  for (int i = 0; i < 3; ++i) {
    const double t0 = i, pt = flowkv::testing::known_time(k, prefill) * 1.25, dt = flowkv::testing::known_time(k, decode) * 0.8;
    std::snprintf(line, sizeof line, "P0,%.9f,%.9f,%.12f,1,1,100,0,%lld,0,0\n", t0, t0 + 0.001, t0 + 0.001 + pt,
                  static_cast<long long>(prefill.attention_pairs));
    it << line;
    std::snprintf(line, sizeof line, "D0,%.9f,%.9f,%.12f,1,0,0,0,0,4,400\n", t0, t0 + 0.002, t0 + 0.002 + dt);
    it << line;
  }
  it.close();
  const auto r = run_flowkv("fidelity " + live_.string() + " " + sim_.string() + " --profile " + profile.string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("TTFT"), std::string::npos) << r.out;
  const json f = json::parse(flowkv::testing::read_file(live_ / "fidelity.json"));
  EXPECT_EQ(f["requests"]["matched"], 5);
  EXPECT_EQ(f["requests"]["completed_both"], 4);
  const json& m = f["metrics"];
  EXPECT_NEAR(m["ttft_s"]["error"]["mean"].get<double>(), 0.10, 1e-6);
  EXPECT_NEAR(m["ttft_s"]["error"]["p99"].get<double>(), 0.10, 1e-6);
  EXPECT_NEAR(m["ttft_s"]["live"]["mean"].get<double>(), 0.25, 1e-9);  // requests 0..3
  EXPECT_NEAR(m["ttft_s"]["per_request"]["mean_abs"].get<double>(), 0.10, 1e-6);
  EXPECT_NEAR(m["ttft_s"]["per_request"]["mean_signed"].get<double>(), 0.10, 1e-6);
  EXPECT_NEAR(m["tpot_s"]["error"]["mean"].get<double>(), 0.0, 1e-9);
  EXPECT_NEAR(m["e2e_s"]["error"]["p50"].get<double>(), -0.10, 1e-6);
  EXPECT_NEAR(m["itl_s"]["error"]["mean"].get<double>(), 0.05, 1e-9);
  EXPECT_FALSE(m["itl_s"].contains("per_request"));
  EXPECT_FALSE(m["ttft_s"]["goal_met"].get<bool>());  // 10% on the mean
  EXPECT_TRUE(m["tpot_s"]["goal_met"].get<bool>());
  EXPECT_FALSE(f["goal"]["met"].get<bool>());
  const json& nodes = f["iterations"]["nodes"];
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0]["node"], "D0");
  EXPECT_EQ(nodes[0]["iterations"], 3);
  EXPECT_NEAR(nodes[0]["total_error"].get<double>(), 0.25, 1e-6);
  EXPECT_NEAR(nodes[0]["dispatch_mean_s"].get<double>(), 0.002, 1e-9);
  EXPECT_NEAR(nodes[1]["total_error"].get<double>(), -0.20, 1e-6);
  EXPECT_NEAR(nodes[1]["mean_abs"].get<double>(), 0.20, 1e-6);
  const std::string csv = flowkv::testing::read_file(live_ / "fidelity_requests.csv");
  EXPECT_EQ(csv.rfind("id,ttft_live_s,ttft_sim_s,", 0), 0u);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5);  // header + 4 completed in both

}

TEST_F(FidelityCli, ArrivalsThatDoNotMatchTheTimeScaleAreRefused) {
  write_runs(2.0);  // simulated without live's time scale: arrivals twice as late
  const auto r = run_flowkv("fidelity " + live_.string() + " " + sim_.string());
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("--rate-scale 2"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(live_ / "fidelity.json"));
}

TEST_F(FidelityCli, BadFoldersExitTwo) {
  write_runs();
  auto r = run_flowkv("fidelity " + live_.string());
  EXPECT_EQ(r.exit_code, 2) << r.out;
  r = run_flowkv("fidelity " + (dir_ / "nope").string() + " " + sim_.string());
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("nope"), std::string::npos) << r.out;
  // A simulated folder in the live run's place.
  r = run_flowkv("fidelity " + sim_.string() + " " + sim_.string());
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("live.time_scale: missing"), std::string::npos) << r.out;
  fs::remove(sim_ / "requests.csv");
  r = run_flowkv("fidelity " + live_.string() + " " + sim_.string());
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("requests.csv"), std::string::npos) << r.out;
  EXPECT_EQ(run_flowkv("fidelity --help").exit_code, 0);
}

TEST_F(FidelityCli, LiveCompareSimRunsBothAndCompares) {
  fs::create_directories(dir_);
  const fs::path profile = dir_ / "profile.json";
  flowkv::testing::write_profile(flowkv::testing::synthetic_profile(flowkv::testing::KnownCosts{}), profile);
  std::ofstream(dir_ / "tiny.json") << R"({
    "name": "tiny-live", "model": "tiny-llama",
    "cluster": {"nodes": [{"gpu": "H100-SXM", "role": "prefill"}, {"gpu": "H100-SXM", "role": "decode"}]},
    "kv": {"num_blocks": 1024},
    "workload": {"generator": {"arrival": {"process": "poisson", "rate": 40}, "requests": 8,
                 "input": {"dist": "uniform", "min": 16, "max": 200}, "output": {"dist": "uniform", "min": 2, "max": 12}}},
    "seed": 5})";
  const auto r = run_flowkv("live --scenario " + (dir_ / "tiny.json").string() + " --threads 1 --time-scale 2 --quiet "
                            "--compare-sim --cost-profile " + profile.string() + " --out " + (dir_ / "run").string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("fidelity:"), std::string::npos) << r.out;
  const json sim = json::parse(flowkv::testing::read_file(dir_ / "run" / "sim" / "summary.json"));
  EXPECT_EQ(sim["scenario"]["workload"]["rate_scale"], 2.0);
  EXPECT_EQ(sim["scenario"]["cost_model"]["kind"], "calibrated");
  const json f = json::parse(flowkv::testing::read_file(dir_ / "run" / "fidelity.json"));
  EXPECT_EQ(f["requests"]["matched"], 8);
  EXPECT_EQ(f["iterations"]["nodes"].size(), 2u);

  // The report shows a fidelity section for the live folder.
  const auto rep = run_flowkv("report " + (dir_ / "run").string() + " -o " + (dir_ / "report.html").string());
  ASSERT_EQ(rep.exit_code, 0) << rep.out;
  const std::string html = flowkv::testing::read_file(dir_ / "report.html");
  EXPECT_NE(html.find("id=\"fidelity\""), std::string::npos);
  EXPECT_NE(html.find("id=\"fidelity-ttft-0\""), std::string::npos);
  EXPECT_NE(html.find("id=\"fidelity-cdf-e2e-0\""), std::string::npos);
}

}  // namespace
