// `flowkv plan` as a user runs it. Invariants protected: the best shape it writes is a scenario
// that `flowkv simulate` accepts and that reproduces OUT/best/ byte for byte (the confirming
// simulation); every candidate cheaper than the best is rejected with a reason; bad input exits 2
// naming the flag and writes nothing; `flowkv report` draws the plan.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/flowkv_cli.h"

namespace {

namespace fs = std::filesystem;
using flowkv::testing::read_file;
using flowkv::testing::run_flowkv;

class PlanCli : public flowkv::testing::ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    fs::create_directories(dir_);
    std::ofstream(dir_ / "small.json") << R"({
      "name": "plan-small",
      "cluster": {"nodes": [{"gpu": "H100-SXM", "count": 1, "role": "prefill"},
                            {"gpu": "H100-SXM", "count": 1, "role": "decode"}]},
      "model": "llama-3.1-8b",
      "workload": {"generator": {"arrival": {"process": "poisson", "rate": 12}, "requests": 200,
                   "input": {"dist": "lognormal", "mean": 5000, "std": 1500, "min": 100, "max": 12000},
                   "output": {"dist": "lognormal", "mean": 120, "std": 60, "min": 1, "max": 600}}},
      "policies": {"global": "round-robin"},
      "slo": {"ttft_s": 1.5, "tpot_s": 0.05},
      "seed": 5
    })";
    scenario_ = (dir_ / "small.json").string();
  }
  std::string scenario_;
};

TEST_F(PlanCli, BestShapeIsConfirmedBySimulate) {
  const fs::path out = dir_ / "plan";
  const auto r = run_flowkv("plan --scenario " + scenario_ +
                            " --gpus H100-SXM:2.99,A100-80G:1.79 --max-gpus 6 --policies round-robin,colocated --quiet --out " +
                            out.string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("best: $"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("all rejected"), std::string::npos) << r.out;
  for (const char* f : {"plan.json", "candidates.csv", "best-scenario.json", "plan-run.json", "best/summary.json"}) {
    EXPECT_TRUE(fs::exists(out / f)) << f;
  }
  const auto s = run_flowkv("simulate --scenario " + (out / "best-scenario.json").string() + " --quiet --out " +
                            (dir_ / "confirm").string());
  ASSERT_EQ(s.exit_code, 0) << s.out;
  for (const char* f : {"summary.json", "requests.csv", "vllm.json"}) {
    EXPECT_EQ(read_file(dir_ / "confirm" / f), read_file(out / "best" / f)) << f;
  }
  const nlohmann::json plan = nlohmann::json::parse(read_file(out / "plan.json"));
  const nlohmann::json summary = nlohmann::json::parse(read_file(dir_ / "confirm" / "summary.json"));
  EXPECT_GE(summary["slo_attainment"].get<double>() * summary["requests"]["completed"].get<double>() /
                summary["requests"]["total"].get<double>(),
            0.9 - 1e-9);
  const double best_cost = plan["best"]["cost_per_hour"].get<double>();
  for (const nlohmann::json& c : plan["candidates"]) {
    if (c["cost_per_hour"].get<double>() < best_cost) {
      EXPECT_NE(c["status"], "feasible");
      EXPECT_FALSE(c["rejected_because"].get<std::string>().empty()) << c.dump();
    }
  }
  const auto rep = run_flowkv("report " + out.string() + " -o " + (dir_ / "r.html").string());
  ASSERT_EQ(rep.exit_code, 0) << rep.out;
  const std::string html = read_file(dir_ / "r.html");
  EXPECT_NE(html.find("id=\"plan-cost-goodput-0\""), std::string::npos);
  EXPECT_NE(html.find("plan-frontier"), std::string::npos);
}

// The README's example (scenarios/plan-azure-conv.json, the Azure conversation trace at 30 req/s):
// the plan picks the shape the README shows, every cheaper candidate is rejected, and the
// confirming simulation meets the target. (The exhaustive grid, 6 minutes, picks the same shape:
// docs/planning.md#figures.)
TEST_F(PlanCli, ShippedExampleFindsTheDocumentedShape) {
  const fs::path out = dir_ / "example";
  const auto r = run_flowkv("plan --scenario " + std::string(FLOWKV_SOURCE_DIR) +
                            "/scenarios/plan-azure-conv.json --gpus H100-SXM:2.99,A100-80G:1.79 --tp 1,2 "
                            "--policies round-robin,flowkv,colocated --max-gpus 16 --quiet --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("best: $7.77/h  2P H100-SXM + 1D A100-80G (round-robin)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cheaper candidates: 45, all rejected"), std::string::npos) << r.out;
  const auto s = run_flowkv("simulate --scenario " + (out / "best-scenario.json").string() + " --quiet --out " +
                            (dir_ / "example-confirm").string());
  ASSERT_EQ(s.exit_code, 0) << s.out;
  const nlohmann::json summary = nlohmann::json::parse(read_file(dir_ / "example-confirm" / "summary.json"));
  EXPECT_EQ(summary["requests"]["total"].get<int64_t>(), 19366);
  EXPECT_GE(summary["slo_attainment"].get<double>() * summary["requests"]["completed"].get<double>() /
                summary["requests"]["total"].get<double>(),
            0.9);
}

TEST_F(PlanCli, BadInputExits2NamingTheFlagAndWritesNothing) {
  const std::string base = "plan --scenario " + scenario_ + " --quiet --out " + (dir_ / "bad").string() + " ";
  const std::pair<std::string, std::string> cases[] = {
      {"--gpus X100:1", "--gpus"},
      {"--gpus H100-SXM", "--gpus"},
      {"--gpus H100-SXM:-3", "--gpus"},
      {"--gpus H100-SXM:3 --attainment 1.5", "--attainment"},
      {"--gpus H100-SXM:3 --tp 0", "--tp"},
      {"--gpus H100-SXM:3 --max-gpus 0", "--max-gpus"},
      {"--gpus H100-SXM:3 --policies nope", "nope"},
      {"--gpus H100-SXM:3 --prefill-nodes 2", "--prefill-nodes"},
      {"--gpus H100-SXM:3 --rate 5 --rate-scale 2", "--rate"},
      {"--gpus H100-SXM:3 --slo-ttft 0", "--slo-ttft"},
      {"", "--gpus"},
  };
  for (const auto& [args, flag] : cases) {
    const auto r = run_flowkv(base + args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.out;
    EXPECT_NE(r.out.find(flag), std::string::npos) << args << "\n" << r.out;
    EXPECT_FALSE(fs::exists(dir_ / "bad")) << args;
  }
  const auto help = run_flowkv("plan --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--attainment"), std::string::npos);
}

}  // namespace
