// `flowkv trace inspect | convert | generate`, run as a user runs them: the JSON keys of inspect,
// exit code 2 with a file:line message on a malformed row, convert writing nothing then, and
// byte-identical output for the same seed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "tests/flowkv_cli.h"

namespace {

using Result = flowkv::testing::CliResult;

// stdout only unless asked: most checks parse it as JSON.
Result run_flowkv(const std::string& args, bool with_stderr = false) {
  return flowkv::testing::run_flowkv(args, with_stderr ? flowkv::testing::Stderr::kMerged
                                                       : flowkv::testing::Stderr::kDropped);
}

namespace fs = std::filesystem;

class TraceCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(fs::path(FLOWKV_BINARY_DIR) / "flowkv"))
        << "build the flowkv target first: " FLOWKV_BINARY_DIR "/flowkv is missing";
  }
  fs::path write(const std::string& name, const std::string& text) { return tmp_.write(name, text); }
  static std::string read(const fs::path& p) { return flowkv::testing::read_file(p); }
  std::set<std::string> files() const {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.insert(e.path().filename().string());
    return names;
  }

  flowkv::testing::TempDir tmp_{"flowkv-trace-cli"};
  const fs::path& dir_ = tmp_.path();
};

const std::string kAzureConv =
    std::string(FLOWKV_SOURCE_DIR) + "/traces/data/AzureLLMInferenceTrace_conv.csv";

TEST_F(TraceCli, InspectJsonHasExactlyTheDocumentedKeys) {
  const Result r = run_flowkv("trace inspect " + kAzureConv + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  std::set<std::string> keys;
  for (const auto& item : j.items()) keys.insert(item.key());
  EXPECT_EQ(keys, (std::set<std::string>{"requests", "duration_s", "rate_rps", "input_tokens",
                                         "output_tokens", "skipped", "prefix_block_reuse"}));
  EXPECT_EQ(j["requests"], 19366);
  EXPECT_NEAR(j["rate_rps"].get<double>(), 5.53, 0.006);
  for (const char* side : {"input_tokens", "output_tokens"}) {
    std::set<std::string> stat_keys;
    for (const auto& item : j[side].items()) stat_keys.insert(item.key());
    EXPECT_EQ(stat_keys, (std::set<std::string>{"mean", "p50", "p90", "p99", "max"})) << side;
  }
  EXPECT_EQ(j["input_tokens"]["max"], 14050);
  EXPECT_TRUE(j["skipped"].is_object());
  EXPECT_TRUE(j["prefix_block_reuse"].is_null());
}

TEST_F(TraceCli, InspectReportsPrefixReuseAndSkips) {
  const Result m = run_flowkv("trace inspect " + std::string(FLOWKV_SOURCE_DIR) +
                              "/traces/data/mooncake_conversation_first300.jsonl --json");
  ASSERT_EQ(m.exit_code, 0) << m.out;
  const auto j = nlohmann::json::parse(m.out);
  ASSERT_TRUE(j["prefix_block_reuse"].is_number());
  EXPECT_GT(j["prefix_block_reuse"].get<double>(), 0.0);

  const auto burst = write("b.csv",
                           "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
                           "1,ChatGPT,10,0,10,Conversation log\n2,ChatGPT,10,5,15,API log\n");
  const Result b = run_flowkv("trace inspect " + burst.string() + " --json");
  ASSERT_EQ(b.exit_code, 0) << b.out;
  EXPECT_EQ(nlohmann::json::parse(b.out)["skipped"]["zero_output_tokens"], 1);
  const Result text = run_flowkv("trace inspect " + burst.string());
  EXPECT_NE(text.out.find("skipped rows    1 (zero_output_tokens)"), std::string::npos) << text.out;
}

// A malformed row: exit code 2, one message with file, line, column and value, and convert
// leaves no output (and no temporary file) behind, nor touches an existing output.
TEST_F(TraceCli, MalformedRowExitsTwoAndConvertWritesNothing) {
  const auto bad = write("bad.csv",
                         "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                         "2023-11-16 18:15:46.6805900,374,44\n"
                         "2023-11-16 18:15:47.0000000,37x4,44\n");
  const Result inspect = run_flowkv("trace inspect " + bad.string(), true);
  EXPECT_EQ(inspect.exit_code, 2);
  EXPECT_NE(
      inspect.out.find(bad.string() +
                       ":3: column ContextTokens: expected a non-negative integer, got '37x4'"),
      std::string::npos)
      << inspect.out;

  const Result convert =
      run_flowkv("trace convert " + bad.string() + " " + (dir_ / "out.csv").string(), true);
  EXPECT_EQ(convert.exit_code, 2) << convert.out;
  EXPECT_EQ(files(), (std::set<std::string>{"bad.csv"}));

  const auto existing = write("keep.csv", "precious");
  EXPECT_EQ(run_flowkv("trace convert " + bad.string() + " " + existing.string()).exit_code, 2);
  EXPECT_EQ(read(existing), "precious");
  EXPECT_EQ(files(), (std::set<std::string>{"bad.csv", "keep.csv"}));
}

TEST_F(TraceCli, ConvertRoundTripsAndTranslates) {
  const fs::path a = dir_ / "a.csv", b = dir_ / "b.csv", v = dir_ / "v.csv";
  ASSERT_EQ(run_flowkv("trace convert " + kAzureConv + " " + a.string()).exit_code, 0);
  ASSERT_EQ(run_flowkv("trace convert " + a.string() + " " + b.string() + " --to native").exit_code,
            0);
  EXPECT_EQ(read(a), read(b));
  EXPECT_EQ(read(a).rfind("# flowkv-trace v1\n", 0), 0u);
  ASSERT_EQ(run_flowkv("trace convert " + a.string() + " " + v.string() + " --to vidur").exit_code,
            0);
  EXPECT_EQ(
      read(v).rfind(
          "arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,374,44\n4.314579,396,109\n", 0),
      0u);
  const Result bad_to =
      run_flowkv("trace convert " + a.string() + " " + (dir_ / "x").string() + " --to azure", true);
  EXPECT_EQ(bad_to.exit_code, 2);
  EXPECT_FALSE(fs::exists(dir_ / "x"));
}

TEST_F(TraceCli, GenerateIsSeededAndValidated) {
  const fs::path one = dir_ / "one.csv", two = dir_ / "two.csv", other = dir_ / "other.csv";
  const std::string flags = " --preset gov_report --rate 2 --requests 300 --seed 5 -o ";
  ASSERT_EQ(run_flowkv("trace generate" + flags + one.string()).exit_code, 0);
  ASSERT_EQ(run_flowkv("trace generate" + flags + two.string()).exit_code, 0);
  ASSERT_EQ(run_flowkv("trace generate --preset gov_report --rate 2 --requests 300 --seed 6 -o " +
                       other.string())
                .exit_code,
            0);
  EXPECT_EQ(read(one), read(two));
  EXPECT_NE(read(one), read(other));
  const Result insp = run_flowkv("trace inspect " + one.string() + " --json");
  EXPECT_EQ(nlohmann::json::parse(insp.out)["requests"], 300);

  const fs::path flagged = dir_ / "flagged.csv";
  ASSERT_EQ(run_flowkv("trace generate --arrival gamma --cv 2 --rate 4 --requests 50 --input "
                       "lognormal:2000:800:16:32000 "
                       "--output fixed:256 --shared-prefix 1024:0.5 -o " +
                       flagged.string())
                .exit_code,
            0);
  const auto spec =
      write("spec.json", R"({"generator": {"preset": "fixed-5k", "rate": 1.0, "requests": 20}})");
  const fs::path from_spec = dir_ / "spec.csv";
  ASSERT_EQ(
      run_flowkv("trace generate --spec " + spec.string() + " -o " + from_spec.string()).exit_code,
      0);
  EXPECT_NE(read(from_spec).find(",5000,256,0,"), std::string::npos);

  const fs::path never = dir_ / "never.csv";
  const Result bad =
      run_flowkv("trace generate --preset fixed-1k --rate -1 -o " + never.string(), true);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.out.find("generator.arrival.rate: expected a positive number, got -1"),
            std::string::npos)
      << bad.out;
  EXPECT_FALSE(fs::exists(never));
  const Result bad_len =
      run_flowkv("trace generate --input pareto:3 --output fixed:1 -o " + never.string(), true);
  EXPECT_EQ(bad_len.exit_code, 2);
  EXPECT_NE(bad_len.out.find("--input: expected fixed:N"), std::string::npos) << bad_len.out;
  EXPECT_EQ(run_flowkv("trace frobnicate").exit_code, 2);
}

}  // namespace
