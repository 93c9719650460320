// `mpirun -n 3 flowkv plan|sweep` against one process. Invariant protected: spreading candidates
// or cells over MPI ranks changes no byte of the results (plan.json, candidates.csv, the best
// run, every sweep cell; run.json and plan-run.json hold wall-clock figures and are left out).
// Without MPI in the build, a multi-rank launch is refused with exit code 2. Kept short (a few
// seconds): small workloads, --oversubscribe for machines with fewer cores than ranks.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "tests/flowkv_cli.h"

namespace {

namespace fs = std::filesystem;
using flowkv::testing::read_file;
using flowkv::testing::run_flowkv;

std::map<std::string, std::string> files(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (!e.is_regular_file() || name == "run.json" || name == "plan-run.json") continue;
    out[fs::relative(e.path(), dir).generic_string()] = read_file(e.path());
  }
  return out;
}

// The output of `flowkv ARGS` under mpirun with `ranks` processes.
// mpirun forwards each rank's stdout and stderr separately, in pieces: a stderr line may land in
// the middle of the stdout table, so tests that compare the table drop stderr.
flowkv::testing::CliResult run_mpi(int ranks, const std::string& args,
                                   flowkv::testing::Stderr err = flowkv::testing::Stderr::kMerged) {
  std::string launcher = std::string(FLOWKV_MPIEXEC) + " --oversubscribe -n " + std::to_string(ranks);
  if (::geteuid() == 0) launcher += " --allow-run-as-root";  // CI runs as root
  // Under ASan (CI's sanitizer pass) Open MPI's own start-up allocations, never freed, would fail
  // every rank at exit; our code's leaks are caught by the one-process runs of the same commands.
  const char* asan = std::getenv("ASAN_OPTIONS");
  const std::string env = "ASAN_OPTIONS='" + std::string(asan != nullptr ? asan : "") + ":detect_leaks=0' ";
  return flowkv::testing::run_shell(env + launcher + " " + flowkv::testing::flowkv_binary().string() + " " + args, err);
}

class MpiCli : public flowkv::testing::ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    if (!FLOWKV_TEST_MPI) GTEST_SKIP() << "built without MPI (FLOWKV_HAVE_MPI off)";
    if (std::string(FLOWKV_MPIEXEC).empty() || !fs::exists(FLOWKV_MPIEXEC)) GTEST_SKIP() << "mpirun not found";
    fs::create_directories(dir_);
  }
};

const std::string kSweepScenario = std::string(FLOWKV_SOURCE_DIR) + "/scenarios/paper/imbalance-synthetic.json";

TEST_F(MpiCli, PlanOnThreeRanksMatchesOneProcess) {
  const std::string args = "plan --scenario " + kSweepScenario +
                           " --set workload.generator.requests=150 --gpus H100-SXM:2.99,A100-80G:1.79 --max-gpus 6 "
                           "--policies round-robin,colocated --jobs 1 --quiet --out ";
  const auto one = run_flowkv(args + (dir_ / "one").string());
  ASSERT_EQ(one.exit_code, 0) << one.out;
  const auto three = run_mpi(3, args + (dir_ / "three").string());
  ASSERT_EQ(three.exit_code, 0) << three.out;
  EXPECT_NE(three.out.find("over 3 MPI ranks"), std::string::npos) << three.out;
  const auto a = files(dir_ / "one"), b = files(dir_ / "three");
  EXPECT_EQ(a.size(), b.size());
  for (const auto& [name, text] : a) EXPECT_EQ(text, b.count(name) ? b.at(name) : "") << name;
}

TEST_F(MpiCli, SweepOnThreeRanksMatchesOneProcess) {
  const std::string args = "sweep --scenario " + kSweepScenario +
                           " --rates 4,10 --policies round-robin,flowkv --set workload.generator.requests=80 --quiet --out ";
  const auto one = run_flowkv(args + (dir_ / "one").string(), flowkv::testing::Stderr::kDropped);
  ASSERT_EQ(one.exit_code, 0) << one.out;
  const auto three = run_mpi(3, args + (dir_ / "three").string(), flowkv::testing::Stderr::kDropped);
  ASSERT_EQ(three.exit_code, 0) << three.out;
  EXPECT_EQ(files(dir_ / "one"), files(dir_ / "three"));
  // The table rank 0 prints is the one process's.
  EXPECT_NE(three.out.find(one.out.substr(0, one.out.rfind("wrote "))), std::string::npos) << three.out;
}

TEST_F(MpiCli, BadInputUnderMpirunExits2) {
  const auto r = run_mpi(2, "plan --scenario " + kSweepScenario + " --gpus X100:1 --quiet --out " + (dir_ / "bad").string());
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("--gpus"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir_ / "bad"));
}

TEST(NoMpiBuild, RefusesAMultiRankLaunch) {
  if (FLOWKV_TEST_MPI) GTEST_SKIP() << "built with MPI: a multi-rank launch is served, not refused";
  const auto r = flowkv::testing::run_shell("OMPI_COMM_WORLD_SIZE=3 " + flowkv::testing::flowkv_binary().string() +
                                           " plan --scenario " + kSweepScenario +
                                           " --gpus H100-SXM:3 --quiet --out /tmp/flowkv-nompi-refused");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("no MPI"), std::string::npos) << r.out;
}

}  // namespace
