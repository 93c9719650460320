// `flowkv calibrate` as a user runs it: a tiny grid on tiny-llama writes a profile that
// `flowkv simulate --cost-profile` accepts (and prints its held-back error); bad flags and bad
// profiles exit 2 with a message naming the flag, file or key, and write nothing.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/calibration_fixtures.h"
#include "tests/flowkv_cli.h"

namespace {

using flowkv::testing::run_flowkv;
namespace fs = std::filesystem;
using nlohmann::json;

class CalibrateCli : public flowkv::testing::ScratchDirTest {};

const std::string kTinyGrid =
    "--model tiny-llama --device cpu --threads 1 --layouts contiguous --density 4 --repeats 1 --warmup 0 "
    "--max-tokens 128 --max-batch 8 --max-context 256 --probe-requests 4 --quiet";

TEST_F(CalibrateCli, TinyGridWritesAProfileTheSimulatorUses) {
  const fs::path profile = dir_ / "profile.json";
  auto r = run_flowkv("calibrate " + kTinyGrid + " --out " + profile.string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("held-back iterations"), std::string::npos) << r.out;
  const json p = json::parse(flowkv::testing::read_file(profile));
  EXPECT_EQ(p["format"], "flowkv-profile");
  EXPECT_EQ(p["model"]["name"], "tiny-llama");
  EXPECT_NE(p["device"].get<std::string>().find("cpu"), std::string::npos);
  EXPECT_EQ(p["command"].get<std::string>().rfind("flowkv calibrate --model tiny-llama", 0), 0u);
  EXPECT_TRUE(p["versions"].contains("flowkv"));
  EXPECT_GE(p["iterations"].size(), 24u);
  EXPECT_GE(p["transfers"].size(), 8u);
  EXPECT_FALSE(p["overhead"]["iteration_gaps_s"].empty());

  r = run_flowkv("simulate --scenario " FLOWKV_SOURCE_DIR "/scenarios/live-cpu.json --set workload.max_requests=40 "
                 "--cost-profile " + profile.string() + " --quiet --out " + (dir_ / "sim").string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("cost model: calibrated"), std::string::npos) << r.out;
  const json summary = json::parse(flowkv::testing::read_file(dir_ / "sim" / "summary.json"));
  EXPECT_EQ(summary["scenario"]["cost_model"]["kind"], "calibrated");
  EXPECT_TRUE(summary["cost_model_fit"]["held_back"].contains("mean_abs"));
  EXPECT_EQ(summary["requests"]["completed"], 40);
}

// The GPU grid (docs/calibration.md, "On a GPU"): Llama-3.1-8B with random weights, both
// layouts, 86 shapes per layout; --dry-run prints it without a device (this build may have none)
// and writes nothing.
TEST_F(CalibrateCli, DryRunPrintsTheLlama8bGridWithoutTiming) {
  const fs::path out = dir_ / "never.json";
  const auto r = run_flowkv("calibrate --device cuda --model llama-3.1-8b --max-context 8192 --dry-run --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("llama-3.1-8b, 2 layout(s), tokens <= 8192, batch <= 256, context <= 8192, density 5: "
                       "86 iteration shapes per layout (24 prefill, 30 decode, 32 mixed)"),
            std::string::npos)
      << r.out;
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(CalibrateCli, HelpAndBadFlags) {
  EXPECT_EQ(run_flowkv("calibrate --help").exit_code, 0);
  const fs::path out = dir_ / "p.json";
  struct Case {
    std::string args, message;
  };
  const Case cases[] = {
      {"--device cpu --out " + out.string(), "give --model or --scenario"},
      {"--model tiny-llama --scenario live-cpu --out " + out.string(), "give --model or --scenario"},
      {"--model tiny-llama --density 1 --out " + out.string(), "--density"},
      {"--model tiny-llama --layouts stacked --out " + out.string(), "--layouts: unknown layout 'stacked'"},
      {"--model tiny-llama --device tpu --out " + out.string(), "--device"},
      {"--model nope-llama --out " + out.string(), "nope-llama"},
      {"--model tiny-llama --density 2 --max-tokens 16 --max-batch 1 --max-context 32 --out " + out.string(),
       "raise --density"},
      {"--model tiny-llama", "--out"},
  };
  for (const Case& c : cases) {
    const auto r = run_flowkv("calibrate " + c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find(c.message), std::string::npos) << c.args << "\n" << r.out;
  }
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(CalibrateCli, BadProfilesExitTwoNamingTheFileAndKey) {
  fs::create_directories(dir_);
  const std::string sim = "simulate --scenario " FLOWKV_SOURCE_DIR "/scenarios/live-cpu.json --quiet --out " + (dir_ / "out").string();
  auto r = run_flowkv(sim + " --cost-profile " + (dir_ / "missing.json").string());
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("missing.json"), std::string::npos) << r.out;
  // Another model's profile.
  flowkv::testing::write_profile(flowkv::testing::synthetic_profile(flowkv::testing::KnownCosts{}, "small-llama"),
                                 dir_ / "small.json");
  r = run_flowkv(sim + " --cost-profile " + (dir_ / "small.json").string());
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("small.json: model."), std::string::npos) << r.out;
  // A key missing.
  nlohmann::ordered_json j = flowkv::core::profile_to_json(flowkv::testing::synthetic_profile(flowkv::testing::KnownCosts{}));
  j.erase("overhead");
  std::ofstream(dir_ / "nooverhead.json") << j.dump();
  r = run_flowkv(sim + " --cost-profile " + (dir_ / "nooverhead.json").string());
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("nooverhead.json: overhead: missing"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

}  // namespace
