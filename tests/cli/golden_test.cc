// Golden runs: `flowkv simulate` on each small scenario under tests/golden/<name>/ must write
// exactly the files stored beside it (summary.json, requests.csv, ...), byte for byte. Any change
// to the simulator, the cost models, the policies or the output formats that moves a number
// shows up here; when the change is intended, regenerate with tools/regen_golden.sh and review
// the diff (docs/reliability.md).
//
// A golden folder holds scenario.json, optionally args.txt (extra flags on one line, e.g.
// --fault ...), and the expected outputs; every file other than those two is compared.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/flowkv_cli.h"

namespace {

namespace fs = std::filesystem;
const auto slurp = flowkv::testing::read_file;

std::vector<fs::path> golden_dirs() {
  std::vector<fs::path> dirs;
  const fs::path root = fs::path(FLOWKV_SOURCE_DIR) / "tests" / "golden";
  if (!fs::exists(root)) return dirs;
  for (const auto& e : fs::directory_iterator(root)) {
    if (e.is_directory() && fs::exists(e.path() / "scenario.json")) dirs.push_back(e.path());
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

// "line N: expected ... / got ..." for the first line that differs.
std::string first_difference(const std::string& expected, const std::string& got) {
  std::istringstream a(expected), b(got);
  std::string la, lb;
  for (int line = 1;; ++line) {
    const bool ha = static_cast<bool>(std::getline(a, la));
    const bool hb = static_cast<bool>(std::getline(b, lb));
    if (!ha && !hb) return "files differ only in their line endings";
    if (!ha || !hb || la != lb) {
      return "line " + std::to_string(line) + ":\n  expected: " + (ha ? la : "(end of file)") +
             "\n  got:      " + (hb ? lb : "(end of file)");
    }
  }
}

TEST(Golden, EveryGoldenScenarioReproducesItsFilesByteForByte) {
  const fs::path bin = fs::path(FLOWKV_BINARY_DIR) / "flowkv";
  ASSERT_TRUE(fs::exists(bin)) << bin << " is missing: build the flowkv target first";
  const std::vector<fs::path> dirs = golden_dirs();
  ASSERT_GE(dirs.size(), 3u) << "tests/golden/ should hold the golden scenarios";
  for (const fs::path& dir : dirs) {
    const std::string name = dir.filename().string();
    const fs::path out = fs::temp_directory_path() / ("flowkv_golden_" + std::to_string(::getpid()) + "_" + name);
    fs::remove_all(out);
    std::string args;
    if (fs::exists(dir / "args.txt")) {
      args = slurp(dir / "args.txt");
      args.erase(std::remove(args.begin(), args.end(), '\n'), args.end());
    }
    const flowkv::testing::CliResult r = flowkv::testing::run_flowkv(
        "simulate --scenario " + (dir / "scenario.json").string() + " " + args + " --quiet --out " + out.string());
    ASSERT_EQ(r.exit_code, 0) << name << ": " << r.out;
    int compared = 0;
    for (const auto& e : fs::directory_iterator(dir)) {
      const std::string file = e.path().filename().string();
      if (file == "scenario.json" || file == "args.txt") continue;
      ++compared;
      ASSERT_TRUE(fs::exists(out / file)) << name << ": the run did not write " << file;
      const std::string expected = slurp(e.path());
      const std::string got = slurp(out / file);
      EXPECT_EQ(expected == got, true)
          << name << "/" << file << " differs from the golden copy; "
          << first_difference(expected, got)
          << "\nIf the change is intended, run tools/regen_golden.sh " << name << " and review the diff.";
    }
    EXPECT_GE(compared, 2) << name << ": no golden outputs stored";
    fs::remove_all(out);
  }
}

}  // namespace
