// `flowkv simulate --fault ...` as a user runs it: faults from the flag and from the scenario
// recover and show in summary.json; the same command twice writes byte-identical files
// (summary.json, requests.csv, timeline.json); a bad
// --fault exits 2 with one message naming the flag and writes nothing.
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
  std::string output;
};

Result flowkv(const std::string& args) {
  const fs::path bin = fs::path(FLOWKV_BINARY_DIR) / "flowkv";
  if (!fs::exists(bin)) {
    ADD_FAILURE() << bin << " is missing: build the flowkv target first";
    return {};
  }
  Result r;
  FILE* pipe = popen((bin.string() + " " + args + " 2>&1").c_str(), "r");
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

class FaultCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("flowkv_fault_cli_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  const std::string scenario_ = FLOWKV_SOURCE_DIR "/tests/golden/disagg-small/scenario.json";
};

TEST_F(FaultCli, FlagFaultsRecoverAndShowInTheSummary) {
  const Result r = flowkv("simulate --scenario " + scenario_ +
                          " --fault node=D0,at=1.0,for=1.5 --fault node=P1,at=0.5,kind=link-down,for=0.5 "
                          "--quiet --out " + dir_.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("faults: 2 injected, 1 node failures"), std::string::npos) << r.output;
  const json s = json::parse(slurp(dir_ / "summary.json"));
  EXPECT_EQ(s["requests"]["completed"].get<int>() + s["requests"]["failed"].get<int>(), s["requests"]["total"].get<int>());
  EXPECT_EQ(s["recoveries"]["node_failures"], 1);
  EXPECT_GT(s["recoveries"]["reprefill"].get<int>() + s["recoveries"]["retransfer"].get<int>() +
                s["recoveries"]["reroute"].get<int>(),
            0);
  ASSERT_EQ(s["scenario"]["faults"].size(), 2u);
  EXPECT_EQ(s["scenario"]["faults"][0]["node"], "P1");  // sorted by start time
  EXPECT_EQ(s["scenario"]["faults"][1]["node"], "D0");
  EXPECT_EQ(s["nodes"][2]["failures"], 1);
}

TEST_F(FaultCli, SameCommandTwiceWritesByteIdenticalFiles) {
  const std::string args = "simulate --scenario " + scenario_ +
                           " --fault node=D1,at=0.8 --fault node=0,at=1.5,for=1 --timeline --quiet --out ";
  const Result a = flowkv(args + (dir_ / "a").string());
  ASSERT_EQ(a.code, 0) << a.output;
  ASSERT_EQ(flowkv(args + (dir_ / "b").string()).code, 0);
  for (const char* f : {"summary.json", "requests.csv", "timeline.json"}) {
    const std::string a = slurp(dir_ / "a" / f);
    EXPECT_FALSE(a.empty()) << f;
    EXPECT_EQ(a, slurp(dir_ / "b" / f)) << f;
  }
}

TEST_F(FaultCli, BadFaultExitsTwoNamingTheFlagAndWritesNothing) {
  for (const auto& [flag, expected] : std::vector<std::pair<std::string, std::string>>{
           {"node=9,at=1", "--fault node=9,at=1: node: expected a node index 0..3 or a node name (P0, P1, D0, D1)"},
           {"node=D0", "--fault node=D0: at= is missing"},
           {"node=D0,at=1,kind=link-slow", "--fault node=D0,at=1,kind=link-slow: factor: missing"},
       }) {
    const Result r = flowkv("simulate --scenario " + scenario_ + " --fault " + flag + " --quiet --out " + dir_.string());
    EXPECT_EQ(r.code, 2) << flag << ": " << r.output;
    EXPECT_NE(r.output.find(expected), std::string::npos) << flag << ": " << r.output;
    EXPECT_FALSE(fs::exists(dir_)) << flag;
  }
}

}  // namespace
