// `flowkv report` run as a user runs it: exit 0 and one HTML file on good folders, byte-identical
// for the same inputs; exit 2 naming the folder, and no file written, on a folder without results.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/flowkv_cli.h"
#include "tests/report/result_fixtures.h"

namespace {

using flowkv::testing::run_flowkv;
using Result = flowkv::testing::CliResult;
const auto read = flowkv::testing::read_file;

namespace fs = std::filesystem;
using namespace flowkv;

class ReportCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(fs::path(FLOWKV_BINARY_DIR) / "flowkv"))
        << "build the flowkv target first: " FLOWKV_BINARY_DIR "/flowkv is missing";
    std::string tmpl = (fs::temp_directory_path() / "flowkv-report-cli-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};

TEST_F(ReportCli, WritesOnePageForACompareFolderAndASweepDeterministically) {
  std::vector<fixtures::FakeRun> runs(2);
  runs[1].policy = "least-loaded";
  runs[1].slowdown = 1.5;
  fixtures::write_fake_compare(dir_ / "cmp", runs);
  fixtures::write_fake_sweep(dir_ / "sweep", {"round-robin", "least-loaded"}, {0.5, 1, 2});
  const std::string args = (dir_ / "cmp").string() + " " + (dir_ / "sweep").string() + " --title 'A test' -o ";
  const Result a = run_flowkv("report " + args + (dir_ / "out" / "a.html").string());
  ASSERT_EQ(a.exit_code, 0) << a.out;
  EXPECT_NE(a.out.find("a.html (4 runs, 1 sweeps"), std::string::npos) << a.out;
  const Result b = run_flowkv("report " + args + (dir_ / "out" / "b.html").string());
  ASSERT_EQ(b.exit_code, 0) << b.out;
  const std::string html = read(dir_ / "out" / "a.html");
  EXPECT_EQ(html, read(dir_ / "out" / "b.html"));
  EXPECT_NE(html.find("<title>A test</title>"), std::string::npos);
  EXPECT_NE(html.find("id=\"rate-goodput\""), std::string::npos);
  EXPECT_NE(html.find("id=\"cdf-ttft\""), std::string::npos);
}

TEST_F(ReportCli, AFolderWithoutResultsExits2NamingItAndWritesNothing) {
  fixtures::write_fake_run(dir_ / "good", fixtures::FakeRun{});
  fs::create_directories(dir_ / "nothing-here");
  const fs::path out = dir_ / "r.html";
  const Result r = run_flowkv("report " + (dir_ / "good").string() + " " + (dir_ / "nothing-here").string() + " -o " +
                              out.string());
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find((dir_ / "nothing-here").string() + ": no result files"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(out));
  const Result none = run_flowkv("report -o " + out.string());
  EXPECT_EQ(none.exit_code, 2) << none.out;
  EXPECT_FALSE(fs::exists(out));
}

// `flowkv simulate --vllm-json`: the file agrees with the run's summary.json (same run, vLLM's
// names and units), and is byte-identical when the run is repeated.
TEST_F(ReportCli, SimulateWritesAVllmResultThatAgreesWithItsSummary) {
  const std::string base = "simulate --scenario default --set workload.max_requests=300 --rate-scale 4 --quiet ";
  const Result a = run_flowkv(base + "--out " + (dir_ / "run").string() + " --vllm-json " + (dir_ / "v" / "a.json").string());
  ASSERT_EQ(a.exit_code, 0) << a.out;
  const Result b = run_flowkv(base + "--out " + (dir_ / "run2").string() + " --vllm-json " + (dir_ / "v" / "b.json").string());
  ASSERT_EQ(b.exit_code, 0) << b.out;
  EXPECT_EQ(read(dir_ / "v" / "a.json"), read(dir_ / "v" / "b.json"));
  const nlohmann::json v = nlohmann::json::parse(read(dir_ / "v" / "a.json"));
  const nlohmann::json s = nlohmann::json::parse(read(dir_ / "run" / "summary.json"));
  EXPECT_EQ(v["completed"], s["requests"]["completed"]);
  EXPECT_EQ(v["num_prompts"], s["requests"]["total"]);
  EXPECT_NEAR(v["duration"].get<double>(), s["makespan_s"].get<double>(), 1e-6);
  EXPECT_NEAR(v["request_throughput"].get<double>(), s["throughput"]["requests_per_s"].get<double>(), 1e-6);
  EXPECT_NEAR(v["output_throughput"].get<double>(), s["throughput"]["output_tokens_per_s"].get<double>(), 1e-3);
  EXPECT_NEAR(v["request_goodput"].get<double>(), s["goodput_rps"].get<double>(), 1e-6);
  for (const char* m : {"ttft", "tpot", "e2e"}) {
    const std::string vm = m == std::string("e2e") ? "e2el" : m;
    EXPECT_NEAR(v["mean_" + vm + "_ms"].get<double>(), 1e3 * s[std::string(m) + "_s"]["mean"].get<double>(), 1e-3) << m;
    EXPECT_NEAR(v["p99_" + vm + "_ms"].get<double>(), 1e3 * s[std::string(m) + "_s"]["p99"].get<double>(), 1e-3) << m;
    EXPECT_NEAR(v["median_" + vm + "_ms"].get<double>(), 1e3 * s[std::string(m) + "_s"]["p50"].get<double>(), 1e-3) << m;
  }
  EXPECT_NEAR(v["mean_itl_ms"].get<double>(), 1e3 * s["itl_s"]["mean"].get<double>(), 1e-3);
  EXPECT_GT(v["std_ttft_ms"].get<double>(), 0);
  const Result bad = run_flowkv(base + "--out " + (dir_ / "run3").string() + " --vllm-json ''");
  EXPECT_EQ(bad.exit_code, 2) << bad.out;
  EXPECT_NE(bad.out.find("--vllm-json: expected a file name"), std::string::npos) << bad.out;
}

}  // namespace
