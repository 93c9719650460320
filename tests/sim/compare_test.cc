// compare and sweep: the same files whatever the number of threads, the documented layouts, and
// errors before anything is written.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/base/error.h"
#include "sim/compare.h"
#include "tests/scratch.h"

namespace flowkv::sim {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every file under `dir` except run.json (wall-clock figures), relative path -> bytes.
std::map<std::string, std::string> files(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().filename() != "run.json") {
      out[fs::relative(e.path(), dir).generic_string()] = slurp(e.path());
    }
  }
  return out;
}

class CompareTest : public flowkv::testing::ScratchDirTest {
 protected:
  CompareSpec spec(const fs::path& out, int jobs) const {
    CompareSpec s;
    s.scenario = fs::path(FLOWKV_SOURCE_DIR) / "scenarios/paper/imbalance-synthetic.json";
    s.overrides.sets = {"workload.generator.requests=150"};
    s.policies = {"round-robin", "vllm-disagg", "colocated", "flowkv", "flowkv-plus"};
    s.out = out;
    s.jobs = jobs;
    return s;
  }
};

TEST_F(CompareTest, SameFilesWithOneOrSeveralThreads) {
  const auto one = run_compare(spec(dir_ / "j1", 1));
  const auto three = run_compare(spec(dir_ / "j3", 3));
  ASSERT_EQ(one.size(), 5u);
  const auto a = files(dir_ / "j1"), b = files(dir_ / "j3");
  EXPECT_EQ(a.size(), 1u + 5u * 3u);  // compare.json + summary.json, requests.csv and vllm.json per policy
  EXPECT_EQ(a, b);
  const nlohmann::json c = nlohmann::json::parse(a.at("compare.json"));
  ASSERT_EQ(c["policies"].size(), 5u);
  EXPECT_EQ(c["policies"][1]["name"], "vllm-disagg");
  // The summary inside compare.json is the policy's summary.json.
  EXPECT_EQ(c["policies"][1]["summary"], nlohmann::json::parse(a.at("vllm-disagg/summary.json")));
  EXPECT_EQ(c["policies"][1]["summary"]["scenario"]["kv"]["layout"], "paged");  // its profile ran
}

TEST_F(CompareTest, SweepLayoutAndRates) {
  SweepSpec s;
  s.scenario = fs::path(FLOWKV_SOURCE_DIR) / "scenarios/paper/imbalance-synthetic.json";
  s.overrides.sets = {"workload.generator.requests=100"};
  s.policies = {"round-robin", "flowkv"};
  s.rates = {2, 6};
  s.rate_labels = {"2", "6"};
  s.out = dir_ / "sweep";
  s.jobs = 2;
  const auto cells = run_sweep(s);
  ASSERT_EQ(cells.size(), 4u);
  const nlohmann::json j = nlohmann::json::parse(slurp(dir_ / "sweep" / "sweep.json"));
  ASSERT_EQ(j["cells"].size(), 4u);
  EXPECT_EQ(j["cells"][3]["policy"], "flowkv");
  EXPECT_EQ(j["cells"][3]["dir"], "flowkv/rate-6");
  // The scenario runs at 12 req/s: 6 req/s is about half of it, and the cell ran at 6 req/s.
  EXPECT_NEAR(j["cells"][3]["rate_rps"].get<double>(), 6.0, 1e-6);
  EXPECT_NEAR(j["cells"][3]["rate_scale"].get<double>(), 0.5, 0.1);
  EXPECT_TRUE(fs::exists(dir_ / "sweep" / "flowkv" / "rate-6" / "summary.json"));
  // A higher rate queues more.
  EXPECT_GT(cells[1].run.metrics.ttft.mean, cells[0].run.metrics.ttft.mean);
  s.out = dir_ / "sweep1";
  s.jobs = 1;
  run_sweep(s);
  EXPECT_EQ(files(dir_ / "sweep"), files(dir_ / "sweep1"));
}

TEST_F(CompareTest, BadPolicyFailsBeforeAnythingIsWritten) {
  CompareSpec s = spec(dir_ / "bad", 2);
  s.policies = {"round-robin", "no-such-policy"};
  try {
    run_compare(s);
    FAIL() << "expected an input error";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_NE(std::string(e.what()).find("no-such-policy"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir_ / "bad"));
  EXPECT_THROW(split_list("a,,b", "--policies"), core::Error);
  EXPECT_THROW(split_list("a,b,a", "--policies"), core::Error);
  EXPECT_EQ(split_list("a, b", "--policies"), (std::vector<std::string>{"a", "b"}));
}

}  // namespace
}  // namespace flowkv::sim
