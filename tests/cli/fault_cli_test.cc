// `flowkv simulate --fault ...` as a user runs it: faults from the flag and from the scenario
// recover and show in summary.json; the same command twice writes byte-identical files
// (summary.json, requests.csv, timeline.json); a bad
// --fault exits 2 with one message naming the flag and writes nothing.
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

class FaultCli : public flowkv::testing::ScratchDirTest {
 protected:
  const std::string scenario_ = FLOWKV_SOURCE_DIR "/tests/golden/disagg-small/scenario.json";
};

TEST_F(FaultCli, FlagFaultsRecoverAndShowInTheSummary) {
  const Result r = run_flowkv("simulate --scenario " + scenario_ +
                          " --fault node=D0,at=1.0,for=1.5 --fault node=P1,at=0.5,kind=link-down,for=0.5 "
                          "--quiet --out " + dir_.string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("faults: 2 injected, 1 node failures"), std::string::npos) << r.out;
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
  const Result a = run_flowkv(args + (dir_ / "a").string());
  ASSERT_EQ(a.exit_code, 0) << a.out;
  ASSERT_EQ(run_flowkv(args + (dir_ / "b").string()).exit_code, 0);
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
    const Result r = run_flowkv("simulate --scenario " + scenario_ + " --fault " + flag + " --quiet --out " + dir_.string());
    EXPECT_EQ(r.exit_code, 2) << flag << ": " << r.out;
    EXPECT_NE(r.out.find(expected), std::string::npos) << flag << ": " << r.out;
    EXPECT_FALSE(fs::exists(dir_)) << flag;
  }
}

}  // namespace
