// `flowkv kv plan`, run as a user runs it: the 13,000-token check of issue 2 (52,032 copies per
// block on the paged layout, 1 merged copy on the contiguous one), the JSON shape, and exit
// code 2 on bad input.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/flowkv_cli.h"

namespace {

using Result = flowkv::testing::CliResult;

// stdout only unless asked: most checks parse it as JSON.
Result run_flowkv(const std::string& args, bool with_stderr = false) {
  return flowkv::testing::run_flowkv(args, with_stderr ? flowkv::testing::Stderr::kMerged
                                                       : flowkv::testing::Stderr::kDropped);
}

const nlohmann::json* find_plan(const nlohmann::json& out, const std::string& layout, bool merge,
                                const std::string& allocator) {
  for (const auto& p : out.at("plans")) {
    if (p.at("layout") == layout && p.at("merge") == merge && p.at("allocator") == allocator)
      return &p;
  }
  return nullptr;
}

TEST(KvPlan, Llama31_8B_13000TokensOnEmptyPools) {
  const Result r = run_flowkv("kv plan --model llama-3.1-8b --tokens 13000 --json");
  ASSERT_EQ(r.exit_code, 0) << "is " FLOWKV_BINARY_DIR "/flowkv built? output: " << r.out;
  const auto out = nlohmann::json::parse(r.out);
  EXPECT_EQ(out.at("model"), "llama-3.1-8b");
  EXPECT_EQ(out.at("tokens"), 13000);
  EXPECT_EQ(out.at("block_size"), 16);
  EXPECT_EQ(out.at("blocks"), 813);
  EXPECT_EQ(out.at("bytes"), int64_t{813} * 16 * 131072);
  ASSERT_EQ(out.at("plans").size(), 8u);
  for (const char* allocator : {"segment", "freelist"}) {
    const auto* per_block = find_plan(out, "paged", false, allocator);
    ASSERT_NE(per_block, nullptr);
    EXPECT_EQ(per_block->at("calls"), 52032) << allocator;
    EXPECT_DOUBLE_EQ(per_block->at("bytes_per_call_mean").get<double>(), 32768.0);
    const auto* merged = find_plan(out, "contiguous", true, allocator);
    ASSERT_NE(merged, nullptr);
    EXPECT_EQ(merged->at("calls"), 1) << allocator;
    EXPECT_DOUBLE_EQ(merged->at("bytes_per_call_mean").get<double>(), 813.0 * 16 * 131072);
  }
}

TEST(KvPlan, TableShowsTheSameFigures) {
  const Result r = run_flowkv("kv plan --model llama-3.1-8b --tokens 13000");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("52,032"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("813 blocks"), std::string::npos) << r.out;
}

TEST(KvPlan, OccupiedPoolsAreDeterministicAndFavourTheSegmentAllocator) {
  const std::string args =
      "kv plan --model qwen2.5-7b --tokens 8000 --occupancy 0.7 --seed 3 --json";
  const Result a = run_flowkv(args), b = run_flowkv(args);
  ASSERT_EQ(a.exit_code, 0) << a.out;
  EXPECT_EQ(a.out, b.out);
  const auto out = nlohmann::json::parse(a.out);
  const int64_t segment = find_plan(out, "contiguous", true, "segment")->at("calls");
  const int64_t freelist = find_plan(out, "contiguous", true, "freelist")->at("calls");
  EXPECT_LT(segment, freelist);
  EXPECT_NE(
      run_flowkv("kv plan --model qwen2.5-7b --tokens 8000 --occupancy 0.7 --seed 4 --json").out,
      a.out);
}

TEST(KvPlan, BadInputExitsWith2AndSaysWhy) {
  struct Bad {
    const char* args;
    const char* says;
  };
  for (const Bad& bad :
       {Bad{"kv plan --model llama-3.1-8b --tokens 13000 --bogus", "bogus"},
        Bad{"kv plan --model llama-3.1-8b --tokens 0", "--tokens"},
        Bad{"kv plan --model llama-3.1-8b --tokens many", "tokens"},
        Bad{"kv plan --tokens 100", "model"},
        Bad{"kv plan --model no-such-model --tokens 100", "llama-3.1-8b"},
        Bad{"kv plan --model llama-3.1-8b --tokens 100 --occupancy 1", "--occupancy"},
        Bad{"kv plan --model llama-3.1-8b --tokens 100 --seed -1", "--seed"},
        Bad{"kv plan --model llama-3.1-8b --tokens 100 --pool-blocks 3", "--pool-blocks"},
        Bad{"kv plan --model llama-3.1-8b --tokens 1000 --occupancy 0.9 --pool-blocks 100",
            "raise --pool-blocks"},
        Bad{"kv frobnicate", "plan"}}) {
    const Result r = run_flowkv(bad.args, /*with_stderr=*/true);
    EXPECT_EQ(r.exit_code, 2) << bad.args << "\n" << r.out;
    EXPECT_NE(r.out.find(bad.says), std::string::npos) << bad.args << "\n" << r.out;
  }
}

}  // namespace
