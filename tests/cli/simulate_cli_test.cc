// `flowkv simulate` as a user runs it: the default scenario end to end (kept short with
// --set workload.max_requests=...), its three output files, exit code 2 and no output on a bad
// scenario, and byte-identical summaries across runs.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Result {
  int code = -1;
  std::string output;  // stdout and stderr
};

Result flowkv(const std::string& args) {
  const fs::path bin = fs::path(FLOWKV_BINARY_DIR) / "flowkv";
  if (!fs::exists(bin)) {
    ADD_FAILURE() << bin << " is missing: build the flowkv target first";
    return {};
  }
  const std::string cmd = bin.string() + " " + args + " 2>&1";
  Result r;
  FILE* pipe = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) r.output.append(buf, n);
  const int status = pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class SimulateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("flowkv_cli_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(SimulateCli, DefaultScenarioWritesItsOutputs) {
  const Result r = flowkv("simulate --scenario " FLOWKV_SOURCE_DIR "/scenarios/default.json "
                          "--set workload.max_requests=300 --quiet --out " + dir_.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("requests: 300 total"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("TTFT"), std::string::npos);
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
  const Result r = flowkv("simulate --scenario default --set cluster.nodes[1].gpu=X --quiet --out " + dir_.string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("cluster.nodes[1].gpu: unknown GPU 'X'"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir_ / "summary.json"));
  const Result typo = flowkv("simulate --scenario default --set kv.layuot=paged --quiet --out " + dir_.string());
  EXPECT_EQ(typo.code, 2) << typo.output;
  EXPECT_NE(typo.output.find("kv.layuot: unknown key"), std::string::npos) << typo.output;
  const Result flag = flowkv("simulate --scenario default --prefil-nodes 2");
  EXPECT_EQ(flag.code, 2) << flag.output;
  const Result missing = flowkv("simulate --scenario /nonexistent.json");
  EXPECT_EQ(missing.code, 2) << missing.output;
  EXPECT_NE(missing.output.find("not found"), std::string::npos) << missing.output;
}

TEST_F(SimulateCli, FlagsOverrideTheScenario) {
  const Result r = flowkv("simulate --scenario default --set workload.max_requests=100 --policy least-loaded "
                          "--prefill-nodes 1 --decode-nodes 3 --seed 4 --rate-scale 2 --quiet --out " + dir_.string());
  ASSERT_EQ(r.code, 0) << r.output;
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
  ASSERT_EQ(flowkv(args + (dir_ / "a").string()).code, 0);
  ASSERT_EQ(flowkv(args + (dir_ / "b").string()).code, 0);
  EXPECT_EQ(slurp(dir_ / "a" / "summary.json"), slurp(dir_ / "b" / "summary.json"));
  EXPECT_EQ(slurp(dir_ / "a" / "requests.csv"), slurp(dir_ / "b" / "requests.csv"));
}

}  // namespace
