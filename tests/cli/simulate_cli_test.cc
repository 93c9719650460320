// `flowkv simulate` as a user runs it: the default scenario end to end (kept short with
// --set workload.max_requests=...), its three output files, exit code 2 and no output on a bad
// scenario, and byte-identical summaries across runs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/flowkv_cli.h"

namespace {

using flowkv::testing::run_flowkv;
using Result = flowkv::testing::CliResult;
const auto slurp = flowkv::testing::read_file;

namespace fs = std::filesystem;
using nlohmann::json;

class SimulateCli : public flowkv::testing::ScratchDirTest {};

TEST_F(SimulateCli, DefaultScenarioWritesItsOutputs) {
  const Result r = run_flowkv("simulate --scenario " FLOWKV_SOURCE_DIR "/scenarios/default.json "
                          "--set workload.max_requests=300 --quiet --out " + dir_.string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("requests: 300 total"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("TTFT"), std::string::npos);
  const json summary = json::parse(slurp(dir_ / "summary.json"));
  EXPECT_EQ(summary["requests"]["total"], 300);
  EXPECT_EQ(summary["requests"]["completed"].get<int>() + summary["requests"]["failed"].get<int>(), 300);
  EXPECT_GT(summary["ttft_s"]["p50"].get<double>(), 0);
  EXPECT_GT(summary["transfer_calls_total"].get<int64_t>(), 0);
  EXPECT_EQ(summary["scenario"]["name"], "default");
  EXPECT_EQ(summary["nodes"].size(), 4u);
  const std::string csv = slurp(dir_ / "requests.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 301);
  EXPECT_EQ(csv.rfind("id,status,failure_reason,", 0), 0u);
  const json run = json::parse(slurp(dir_ / "run.json"));
  EXPECT_GT(run["wall_s"].get<double>(), 0);
  EXPECT_GT(run["events"].get<int64_t>(), 300);
}

TEST_F(SimulateCli, BadScenarioExitsTwoNamingThePathAndWritesNothing) {
  const Result r = run_flowkv("simulate --scenario default --set cluster.nodes[1].gpu=X --quiet --out " + dir_.string());
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("cluster.nodes[1].gpu: unknown GPU 'X'"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir_ / "summary.json"));
  const Result typo = run_flowkv("simulate --scenario default --set kv.layuot=paged --quiet --out " + dir_.string());
  EXPECT_EQ(typo.exit_code, 2) << typo.out;
  EXPECT_NE(typo.out.find("kv.layuot: unknown key"), std::string::npos) << typo.out;
  const Result flag = run_flowkv("simulate --scenario default --prefil-nodes 2");
  EXPECT_EQ(flag.exit_code, 2) << flag.out;
  const Result missing = run_flowkv("simulate --scenario /nonexistent.json");
  EXPECT_EQ(missing.exit_code, 2) << missing.out;
  EXPECT_NE(missing.out.find("not found"), std::string::npos) << missing.out;
}

TEST_F(SimulateCli, FlagsOverrideTheScenario) {
  const Result r = run_flowkv("simulate --scenario default --set workload.max_requests=100 --policy least-loaded "
                          "--prefill-nodes 1 --decode-nodes 3 --seed 4 --rate-scale 2 --quiet --out " + dir_.string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const json s = json::parse(slurp(dir_ / "summary.json"));
  EXPECT_EQ(s["scenario"]["policies"]["global"]["name"], "least-loaded");
  EXPECT_EQ(s["scenario"]["seed"], 4);
  EXPECT_EQ(s["scenario"]["workload"]["rate_scale"], 2.0);
  ASSERT_EQ(s["nodes"].size(), 4u);
  EXPECT_EQ(s["nodes"][0]["role_initial"], "prefill");
  EXPECT_EQ(s["nodes"][1]["role_initial"], "decode");
}

TEST_F(SimulateCli, TwoRunsGiveByteIdenticalResults) {
  const std::string args = "simulate --scenario synthetic --set workload.generator.requests=200 --quiet --out ";
  ASSERT_EQ(run_flowkv(args + (dir_ / "a").string()).exit_code, 0);
  ASSERT_EQ(run_flowkv(args + (dir_ / "b").string()).exit_code, 0);
  EXPECT_EQ(slurp(dir_ / "a" / "summary.json"), slurp(dir_ / "b" / "summary.json"));
  EXPECT_EQ(slurp(dir_ / "a" / "requests.csv"), slurp(dir_ / "b" / "requests.csv"));
}

}  // namespace
