// Replays the fuzzers' inputs through the same entry points (fuzz/entry_points.h) under the
// normal build, so a crash the fuzzer once found stays fixed without clang or libFuzzer.
//
// Invariant protected: every parser either parses an input or throws core::Error of kind
// kInvalidInput / kUnsupported naming the file; nothing else escapes (no other exception type,
// no broken invariant of the parsed value; under the ASan+UBSan build, no sanitizer report).
//
//   fuzz/corpus/<target>/*        valid seeds (samples cut from real files, shipped scenarios and
//                                 models, valid overrides): each must parse.
//   fuzz/regressions/<target>/*   inputs that once broke the contract. The name says what the
//                                 fixed parser must do: "rejected-..." (an input error) or
//                                 "parsed-...".
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fuzz/entry_points.h"

namespace flowkv::fuzz {
namespace {

namespace fs = std::filesystem;

const fs::path kFuzzDir = fs::path(FLOWKV_SOURCE_DIR) / "fuzz";

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// What happened to one input, with the contract violation's message if there was one.
struct Replay {
  Outcome outcome = Outcome::kSkipped;
  std::string violation;
};

Replay replay(const Target& target, const fs::path& file) {
  Replay r;
  try {
    r.outcome = target.run(read_bytes(file));
  } catch (const ContractViolation& e) {
    r.violation = e.what();
  }
  return r;
}

class FuzzInputs : public testing::TestWithParam<const char*> {
 protected:
  // The parameters come from targets(), so the lookup cannot miss.
  const Target& target() const { return *find_target(GetParam()); }
};

TEST_P(FuzzInputs, SeedsParse) {
  const std::vector<fs::path> seeds = files_in(kFuzzDir / "corpus" / GetParam());
  ASSERT_FALSE(seeds.empty()) << "no seed files in fuzz/corpus/" << GetParam();
  for (const fs::path& seed : seeds) {
    const Replay r = replay(target(), seed);
    EXPECT_EQ(r.violation, "") << seed;
    EXPECT_EQ(r.outcome, Outcome::kParsed)
        << seed << " is a valid seed (cut from a real file, or a valid override), so it must "
        << "parse; it was "
        << to_string(r.outcome);
  }
}

TEST_P(FuzzInputs, RegressionsKeepTheirFix) {
  for (const fs::path& input : files_in(kFuzzDir / "regressions" / GetParam())) {
    const std::string name = input.filename().string();
    const bool want_parsed = name.rfind("parsed-", 0) == 0;
    ASSERT_TRUE(want_parsed || name.rfind("rejected-", 0) == 0)
        << input << ": a regression input's name starts with rejected- or parsed-";
    const Replay r = replay(target(), input);
    EXPECT_EQ(r.violation, "") << input;
    EXPECT_EQ(r.outcome, want_parsed ? Outcome::kParsed : Outcome::kRejected)
        << input << " was " << to_string(r.outcome);
  }
}

std::vector<const char*> target_names() {
  std::vector<const char*> names;
  for (const Target& t : targets()) names.push_back(t.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzInputs, testing::ValuesIn(target_names()),
                         [](const testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

// A folder named after no target would never be replayed: catch the typo.
TEST(FuzzFolders, EveryFolderNamesATarget) {
  for (const char* kind : {"corpus", "regressions"}) {
    std::error_code ec;
    if (!fs::is_directory(kFuzzDir / kind, ec)) continue;
    for (const auto& e : fs::directory_iterator(kFuzzDir / kind)) {
      if (!e.is_directory()) continue;
      EXPECT_NE(find_target(e.path().filename().string()), nullptr)
          << e.path() << " names no target of fuzz/entry_points.h";
    }
  }
}

// The contract check itself must be able to fail: an error of the wrong kind and a foreign
// exception are violations, an input error is not.
TEST(FuzzContract, GuardedClassifiesOutcomes) {
  EXPECT_EQ(detail::guarded("f.csv", [] { return Outcome::kParsed; }), Outcome::kParsed);
  EXPECT_EQ(detail::guarded("f.csv",
                            []() -> Outcome { core::throw_input_error("f.csv:3: bad row"); }),
            Outcome::kRejected);
  EXPECT_THROW(detail::guarded("f.csv",
                               []() -> Outcome { core::throw_input_error("line 3: bad row"); }),
               ContractViolation);
  EXPECT_THROW(detail::guarded("", []() -> Outcome {
                 throw core::Error(core::ErrorKind::kInternal, "check failed");
               }),
               ContractViolation);
  EXPECT_THROW(detail::guarded("", []() -> Outcome { throw std::bad_alloc(); }), ContractViolation);
}

}  // namespace
}  // namespace flowkv::fuzz
