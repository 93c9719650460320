// Determinism of the parallel runners: `flowkv sweep` and `flowkv compare` (sim/compare.h) must
// write byte-identical files whatever the number of threads, faults included. Every file of the
// output tree is compared except run.json (wall time and memory, different on every run). The
// TSan step of .ci/run runs this test too.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "core/spec/scenario.h"
#include "sim/compare.h"
#include "tests/scratch.h"

namespace flowkv::sim {
namespace {

namespace fs = std::filesystem;

const char* const kScenario = FLOWKV_SOURCE_DIR "/tests/golden/disagg-small/scenario.json";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Relative path -> contents, for every regular file under `root` but run.json.
std::map<std::string, std::string> tree(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file() || e.path().filename() == "run.json") continue;
    files[fs::relative(e.path(), root).string()] = slurp(e.path());
  }
  return files;
}

void expect_same_tree(const fs::path& a, const fs::path& b) {
  const auto ta = tree(a), tb = tree(b);
  ASSERT_FALSE(ta.empty());
  ASSERT_EQ(ta.size(), tb.size());
  for (const auto& [name, contents] : ta) {
    ASSERT_TRUE(tb.count(name)) << name;
    EXPECT_TRUE(contents == tb.at(name)) << name << " differs between 1 and 4 threads";
  }
}

core::ScenarioOverrides with_faults() {
  core::ScenarioOverrides o;
  o.faults = {"node=D0,at=1.0,for=1.0", "node=P1,at=0.5,kind=link-slow,factor=0.3,for=2"};
  return o;
}

class ParallelDeterminism : public flowkv::testing::ScratchDirTest {};

TEST_F(ParallelDeterminism, SweepWritesTheSameFilesOnOneAndFourThreads) {
  for (const int jobs : {1, 4}) {
    SweepSpec spec;
    spec.scenario = kScenario;
    spec.overrides = with_faults();
    spec.policies = {"round-robin", "least-loaded"};
    spec.rate_labels = {"0.5", "1", "2"};
    spec.rates = {0.5, 1, 2};
    spec.rates_are_scales = true;
    spec.out = dir_ / ("jobs" + std::to_string(jobs));
    spec.jobs = jobs;
    const std::vector<SweepCell> cells = run_sweep(spec);
    ASSERT_EQ(cells.size(), 6u);
  }
  expect_same_tree(dir_ / "jobs1", dir_ / "jobs4");
}

TEST_F(ParallelDeterminism, CompareWritesTheSameFilesOnOneAndFourThreads) {
  for (const int jobs : {1, 4}) {
    CompareSpec spec;
    spec.scenario = kScenario;
    spec.overrides = with_faults();
    spec.policies = {"round-robin", "random", "least-loaded"};
    spec.out = dir_ / ("jobs" + std::to_string(jobs));
    spec.jobs = jobs;
    const std::vector<RunOutcome> runs = run_compare(spec);
    ASSERT_EQ(runs.size(), 3u);
    for (const RunOutcome& r : runs) EXPECT_EQ(r.metrics.completed + r.metrics.failed, r.metrics.total) << r.policy;
  }
  expect_same_tree(dir_ / "jobs1", dir_ / "jobs4");
}

}  // namespace
}  // namespace flowkv::sim
