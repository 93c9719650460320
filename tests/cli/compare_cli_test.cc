// `flowkv compare` and `flowkv sweep` as a user runs them: the printed table and every file are
// the same with --jobs 1 and --jobs 2, bad input exits 2 with one message and writes nothing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/flowkv_cli.h"

namespace {

using flowkv::testing::run_flowkv;
using Result = flowkv::testing::CliResult;

namespace fs = std::filesystem;

std::map<std::string, std::string> files(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().filename() == "run.json") continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    out[fs::relative(e.path(), dir).generic_string()] = s.str();
  }
  return out;
}

// The printed table without the last line, which names the output folder.
std::string table(const std::string& output) { return output.substr(0, output.rfind("wrote ")); }

class CompareCli : public flowkv::testing::ScratchDirTest {};

const std::string kScenario = std::string(FLOWKV_SOURCE_DIR) + "/scenarios/paper/imbalance-synthetic.json";

TEST_F(CompareCli, SameTableAndFilesForJobs1AndJobs2) {
  const std::string base = "compare --scenario " + kScenario +
                           " --policies round-robin,vllm-disagg,flowkv --set workload.generator.requests=120 --timeline --quiet";
  const Result a = run_flowkv(base + " --jobs 1 --out " + (dir_ / "a").string());
  const Result b = run_flowkv(base + " --jobs 2 --out " + (dir_ / "b").string());
  ASSERT_EQ(a.exit_code, 0) << a.out;
  ASSERT_EQ(b.exit_code, 0) << b.out;
  EXPECT_EQ(table(a.out), table(b.out));
  EXPECT_NE(a.out.find("vllm-disagg"), std::string::npos);
  EXPECT_EQ(files(dir_ / "a"), files(dir_ / "b"));
  EXPECT_TRUE(fs::exists(dir_ / "a" / "compare.json"));
  EXPECT_TRUE(fs::exists(dir_ / "a" / "flowkv" / "requests.csv"));
  // --timeline: one timeline.json per policy, and the role flips of flowkv are in its timeline.
  for (const char* p : {"round-robin", "vllm-disagg", "flowkv"}) {
    EXPECT_TRUE(fs::exists(dir_ / "a" / p / "timeline.json")) << p;
  }
  std::ifstream in(dir_ / "a" / "flowkv" / "timeline.json");
  const nlohmann::json timeline = nlohmann::json::parse(in);
  int flips = 0;
  for (const nlohmann::json& e : timeline["traceEvents"]) flips += e.value("cat", "") == "role" && e["ph"] == "X";
  EXPECT_GT(flips, 0) << "flowkv flips roles on this scenario: its timeline should show it";
}

TEST_F(CompareCli, SweepWritesOneFolderPerCell) {
  const Result r = run_flowkv("sweep --scenario " + kScenario +
                          " --rates 4,10 --policies round-robin,flowkv --set workload.generator.requests=80 --quiet --out " +
                          (dir_ / "s").string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  for (const char* cell : {"round-robin/rate-4", "round-robin/rate-10", "flowkv/rate-4", "flowkv/rate-10"}) {
    EXPECT_TRUE(fs::exists(dir_ / "s" / cell / "summary.json")) << cell;
  }
  EXPECT_TRUE(fs::exists(dir_ / "s" / "sweep.json"));
}

TEST_F(CompareCli, BadInputExits2AndWritesNothing) {
  for (const std::string& args :
       {"compare --scenario " + kScenario + " --policies round-robin,nope",
        "compare --scenario " + kScenario + " --policies round-robin --jobs 0",
        "compare --scenario " + kScenario + " --policies round-robin,round-robin",
        "compare --scenario " + kScenario + " --policies round-robin --timeline-window 5:2",
        "sweep --scenario " + kScenario + " --policies flowkv --rates 1,x",
        "sweep --scenario " + kScenario + " --policies flowkv",
        "sweep --scenario " + kScenario + " --policies flowkv --rates 1 --rate-scales 2"}) {
    const Result r = run_flowkv(args + " --out " + (dir_ / "x").string());
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.out;
    EXPECT_NE(r.out.find("error"), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(dir_ / "x")) << args;
  }
}

}  // namespace
