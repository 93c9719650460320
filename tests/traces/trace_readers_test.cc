// Readers over the real public traces (counts and means as recorded in SOURCES.md) and over
// small hand-written files for every format, including BurstGPT whose real file we do not have.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "tests/traces/test_files.h"
#include "traces/trace.h"
#include "traces/trace_summary.h"

namespace flowkv::traces {
namespace {

using testing::real_trace;
using testing::TempDir;

struct Expected {
  const char* file;
  TraceFormat format;
  int64_t requests;
  double input_mean;  // SOURCES.md, rounded to an integer there
  double output_mean;
  double rate_rps;  // SOURCES.md, 2 decimals; <= 0 when not recorded
};

class RealTraceTest : public ::testing::TestWithParam<Expected> {};

// The readers must reproduce the statistics published for each real trace.
TEST_P(RealTraceTest, MatchesPublishedStatistics) {
  const Expected& e = GetParam();
  const auto path = real_trace(e.file);
  if (path.empty()) GTEST_SKIP() << e.file << " is in neither ../shared/traces nor traces/data";
  const Trace trace = read_trace(path);
  EXPECT_EQ(trace.format, e.format);
  EXPECT_EQ(static_cast<int64_t>(trace.requests.size()), e.requests);
  EXPECT_EQ(trace.stats.rows, e.requests);
  EXPECT_EQ(trace.stats.skipped_total(), 0);
  const TraceSummary s = summarize(trace);
  EXPECT_NEAR(s.input_tokens.mean, e.input_mean, 0.5);
  EXPECT_NEAR(s.output_tokens.mean, e.output_mean, 0.5);
  if (e.rate_rps > 0) {
    ASSERT_TRUE(s.rate_rps.has_value());
    EXPECT_NEAR(*s.rate_rps, e.rate_rps, 0.006);
  }
  // Trace invariants: sorted, zero-based, ids in order.
  EXPECT_EQ(trace.requests.front().arrival, core::Time::zero());
  for (size_t i = 0; i < trace.requests.size(); ++i) {
    ASSERT_EQ(core::to_int(trace.requests[i].id), i);
    if (i) {
      ASSERT_LE(trace.requests[i - 1].arrival, trace.requests[i].arrival);
    }
    ASSERT_GT(trace.requests[i].prompt_tokens, 0);
    ASSERT_GT(trace.requests[i].output_tokens, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Sources, RealTraceTest,
    ::testing::Values(
        Expected{"AzureLLMInferenceTrace_conv.csv", TraceFormat::kAzure, 19366, 1155, 211, 5.53},
        Expected{"AzureLLMInferenceTrace_code.csv", TraceFormat::kAzure, 8819, 2048, 28, 2.57},
        Expected{"splitwise_conv.csv", TraceFormat::kVidur, 19366, 1155, 211, 5.53},
        Expected{"splitwise_code.csv", TraceFormat::kVidur, 8819, 2048, 28, 2.57},
        Expected{"conversation_trace.jsonl", TraceFormat::kMooncake, 12031, 12035, 343, 3.40},
        Expected{"synthetic_trace.jsonl", TraceFormat::kMooncake, 3993, 15325, 149, 3.91},
        Expected{"sharegpt-llama-3.1-8b-300-sps10.jsonl", TraceFormat::kLlmServingSim, 300, 857,
                 653, 0},
        Expected{"lmsys_05.numeric.jsonl", TraceFormat::kApex, 1024, 62, 162, 0},
        Expected{"creation_05.numeric.jsonl", TraceFormat::kApex, 512, 308, 1144, 0}),
    [](const auto& info) {
      std::string name = info.param.file;
      for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

TEST(RealTraces, AzureConvPercentilesMatchSources) {
  const auto path = real_trace("AzureLLMInferenceTrace_conv.csv");
  if (path.empty()) GTEST_SKIP() << "Azure conv trace not found";
  const TraceSummary s = summarize(read_trace(path));
  EXPECT_NEAR(s.input_tokens.p50, 1020, 0.5);
  EXPECT_EQ(s.input_tokens.max, 14050);
  EXPECT_NEAR(s.output_tokens.p50, 129, 0.5);
  EXPECT_FALSE(s.prefix.has_value());
}

TEST(RealTraces, VidurSplitwiseIsTheAzureTraceInSeconds) {
  const auto azure = real_trace("AzureLLMInferenceTrace_code.csv");
  const auto vidur = real_trace("splitwise_code.csv");
  if (azure.empty() || vidur.empty()) GTEST_SKIP() << "needs both Azure code and splitwise_code";
  const Trace a = read_trace(azure);
  const Trace v = read_trace(vidur);
  ASSERT_EQ(a.requests.size(), v.requests.size());
  for (size_t i = 0; i < a.requests.size(); ++i) {
    ASSERT_EQ(a.requests[i].prompt_tokens, v.requests[i].prompt_tokens) << i;
    ASSERT_EQ(a.requests[i].output_tokens, v.requests[i].output_tokens) << i;
    // Vidur keeps microseconds of the 100-ns Azure timestamps.
    ASSERT_NEAR(a.requests[i].arrival.ns(), v.requests[i].arrival.ns(), 1000) << i;
  }
}

TEST(RealTraces, MooncakePrefixReuseMatchesSources) {
  const auto path = real_trace("conversation_trace.jsonl");
  if (path.empty() || path.string().find("shared") == std::string::npos) {
    GTEST_SKIP() << "the full Mooncake conversation trace is only in ../shared/traces";
  }
  const TraceSummary s = summarize(read_trace(path));
  ASSERT_TRUE(s.prefix.has_value());
  EXPECT_EQ(s.prefix->blocks, 288500);
  EXPECT_EQ(s.prefix->unique_hashes, 182790);
  EXPECT_NEAR(s.prefix->fraction(), 0.366, 0.0005);
  EXPECT_NEAR(s.input_tokens.p50, 6909, 1);
  EXPECT_NEAR(s.input_tokens.p99, 85401, 1);
  EXPECT_EQ(s.input_tokens.max, 126195);
}

TEST(RealTraces, ShippedMooncakeSampleKeepsHashIds) {
  const auto path =
      std::filesystem::path(FLOWKV_SOURCE_DIR) / "traces/data/mooncake_conversation_first300.jsonl";
  ASSERT_TRUE(std::filesystem::exists(path)) << "the shipped sample is part of the repository";
  const Trace t = read_trace(path);
  ASSERT_EQ(t.requests.size(), 300u);
  // The first rows of the Mooncake trace: 6758 tokens -> 14 blocks starting with id 0.
  EXPECT_EQ(t.requests[0].prompt_tokens, 6758);
  ASSERT_EQ(t.requests[0].prefix_hashes.size(), 14u);
  EXPECT_EQ(t.requests[0].prefix_hashes[0], 0u);
  EXPECT_EQ(t.requests[1].prefix_hashes[0], 0u);  // shares the first block
  EXPECT_NE(t.requests[1].prefix_hashes[1], t.requests[0].prefix_hashes[1]);
  const TraceSummary s = summarize(t);
  ASSERT_TRUE(s.prefix.has_value());
  EXPECT_GT(s.prefix->fraction(), 0.0);
}

TEST(RealTraces, LlmServingSimTokenIdsBecomePrefixHashes) {
  const auto path = real_trace("sharegpt-llama-3.1-8b-300-sps10.jsonl");
  if (path.empty()) GTEST_SKIP() << "LLMServingSim trace not found";
  const Trace t = read_trace(path);
  for (const auto& r : t.requests) {
    ASSERT_EQ(static_cast<int64_t>(r.prefix_hashes.size()),
              (r.prompt_tokens + core::kPrefixHashBlockTokens - 1) / core::kPrefixHashBlockTokens);
  }
}

// ---- Hand-written files, one per format ----

TEST(Readers, AzureWallClockAcrossMidnightAndLeapDay) {
  TempDir dir;
  const auto p = dir.write("a.csv",
                           "TIMESTAMP,ContextTokens,GeneratedTokens\r\n"
                           "2024-02-28 23:59:59.5000000,10,1\r\n"
                           "2024-02-29 00:00:00.2500000,20,2\r\n"
                           "2024-03-01 00:00:00,30,3\r\n");
  const Trace t = read_trace(p);
  EXPECT_EQ(t.format, TraceFormat::kAzure);
  ASSERT_EQ(t.requests.size(), 3u);
  EXPECT_EQ(t.requests[0].arrival.ns(), 0);
  EXPECT_EQ(t.requests[1].arrival.ns(), 750'000'000);
  EXPECT_EQ(t.requests[2].arrival.ns(), 500'000'000 + 86'400'000'000'000);
  EXPECT_EQ(t.requests[2].prompt_tokens, 30);
  EXPECT_EQ(t.requests[2].output_tokens, 3);
}

TEST(Readers, AzureColumnsFoundByNameWithByteOrderMark) {
  TempDir dir;
  const auto p = dir.write("a.csv",
                           "\xEF\xBB\xBFGeneratedTokens,TIMESTAMP,ContextTokens\n"
                           "5,2023-12-31 23:59:59.9999999,100\n"
                           "6,2024-01-01 00:00:00.0000001,200\n");
  const Trace t = read_trace(p);
  ASSERT_EQ(t.requests.size(), 2u);
  EXPECT_EQ(t.requests[1].arrival.ns(), 200);
  EXPECT_EQ(t.requests[1].prompt_tokens, 200);
  EXPECT_EQ(t.requests[1].output_tokens, 6);
}

TEST(Readers, VidurSecondsAreExact) {
  TempDir dir;
  const auto p = dir.write("v.csv",
                           "arrived_at,num_prefill_tokens,num_decode_tokens\n"
                           "10.0,1,1\n10.000000001,2,2\n12.5,3,3\n13.25e0,4,4\n");
  const Trace t = read_trace(p);
  EXPECT_EQ(t.format, TraceFormat::kVidur);
  ASSERT_EQ(t.requests.size(), 4u);
  EXPECT_EQ(t.requests[1].arrival.ns(), 1);
  EXPECT_EQ(t.requests[2].arrival.ns(), 2'500'000'000);
  EXPECT_EQ(t.requests[3].arrival.ns(), 3'250'000'000);
}

// BurstGPT logs failed calls (Response tokens 0); none of them may become a request, and each
// must be counted under its reason.
TEST(Readers, BurstGptSkipsFailuresAndSortsByTime) {
  TempDir dir;
  const auto p = dir.write("b.csv",
                           "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
                           "5,ChatGPT,472,18,490,Conversation log\n"
                           "3,GPT-4,1000,0,1000,Conversation log\n"
                           "4,ChatGPT,0,12,12,API log\n"
                           "2,ChatGPT,300,40,340,API log\n"
                           "6,\"GPT-4, large\",10,10,20,Failure log\n"
                           "7,ChatGPT,11,22,33,API log\n");
  const Trace t = read_trace(p);
  EXPECT_EQ(t.format, TraceFormat::kBurstGpt);
  ASSERT_EQ(t.requests.size(), 3u);
  EXPECT_EQ(t.stats.rows, 6);
  EXPECT_EQ(t.stats.skipped.at("zero_output_tokens"), 1);
  EXPECT_EQ(t.stats.skipped.at("zero_input_tokens"), 1);
  EXPECT_EQ(t.stats.skipped.at("failure_log_type"), 1);
  EXPECT_EQ(t.stats.skipped_total(), 3);
  EXPECT_EQ(t.requests[0].prompt_tokens, 300);  // timestamp 2 came fourth in the file
  EXPECT_EQ(t.requests[1].arrival.ns(), 3'000'000'000);
  EXPECT_EQ(t.requests[2].arrival.ns(), 5'000'000'000);
}

TEST(Readers, BurstGptSessionVariant) {
  TempDir dir;
  const auto p = dir.write("b3.csv",
                           "Timestamp,Session ID,Elapsed time,Model,Request tokens,Response "
                           "tokens,Total tokens,Log Type\n"
                           "0.5,17,1.25,ChatGPT,100,20,120,Conversation log\n"
                           "1.5,17,0.75,ChatGPT,200,0,200,Conversation log\n"
                           "2.0,18,2.00,GPT-4,300,30,330,API log\n");
  const Trace t = read_trace(p);
  EXPECT_EQ(t.format, TraceFormat::kBurstGpt);
  ASSERT_EQ(t.requests.size(), 2u);
  EXPECT_EQ(t.requests[1].prompt_tokens, 300);
  EXPECT_EQ(t.requests[1].output_tokens, 30);
  EXPECT_EQ(t.requests[1].arrival.ns(), 1'500'000'000);
  EXPECT_EQ(t.stats.skipped.at("zero_output_tokens"), 1);
}

TEST(Readers, ApexRowsAreSortedStably) {
  TempDir dir;
  const auto p = dir.write(
      "x.jsonl",
      R"({"ContextTokens": 1, "GeneratedTokens": 1, "StartTimeOffset": 3000, "RequestID": "c"})"
      "\n"
      R"({"ContextTokens": 2, "GeneratedTokens": 2, "StartTimeOffset": 1000, "RequestID": "a"})"
      "\n"
      R"({"ContextTokens": 3, "GeneratedTokens": 3, "StartTimeOffset": 3000, "RequestID": "d"})"
      "\n"
      R"({"ContextTokens": 4, "GeneratedTokens": 4, "StartTimeOffset": 2000, "RequestID": "b", "SynthesizedBody": "x, \"y\" } ]"})"
      "\n");
  const Trace t = read_trace(p);
  EXPECT_EQ(t.format, TraceFormat::kApex);
  ASSERT_EQ(t.requests.size(), 4u);
  EXPECT_EQ(t.requests[0].prompt_tokens, 2);
  EXPECT_EQ(t.requests[1].prompt_tokens, 4);
  EXPECT_EQ(t.requests[2].prompt_tokens, 1);  // equal times keep file order
  EXPECT_EQ(t.requests[3].prompt_tokens, 3);
  EXPECT_EQ(t.requests[3].arrival.ns(), 2000);
}

TEST(Readers, MooncakeKeepsHashIdsAndMillisecondTimes) {
  TempDir dir;
  const auto p = dir.write(
      "m.jsonl",
      "{\"timestamp\": 0, \"input_length\": 600, \"output_length\": 5, \"hash_ids\": [0, 1]}\n"
      "\n"
      "{\"timestamp\": 1.5, \"input_length\": 100, \"output_length\": 6, \"hash_ids\": []}\n"
      "{ \"hash_ids\" : [0,7,8] , \"output_length\":7,\"timestamp\":2000,\"input_length\":1200 "
      "}\n");
  const Trace t = read_trace(p);
  EXPECT_EQ(t.format, TraceFormat::kMooncake);
  ASSERT_EQ(t.requests.size(), 3u);
  EXPECT_EQ(t.requests[1].arrival.ns(), 1'500'000);
  EXPECT_EQ(t.requests[2].arrival.ns(), 2'000'000'000);
  EXPECT_EQ(t.requests[0].prefix_hashes, (std::vector<uint64_t>{0, 1}));
  EXPECT_TRUE(t.requests[1].prefix_hashes.empty());
  EXPECT_EQ(t.requests[2].prefix_hashes, (std::vector<uint64_t>{0, 7, 8}));
  const TraceSummary s = summarize(t);
  ASSERT_TRUE(s.prefix.has_value());
  EXPECT_EQ(s.prefix->blocks, 5);
  EXPECT_EQ(s.prefix->hit_blocks, 1);  // block 0 of the third request
}

// Equal token prefixes must give equal leading hashes, and the first differing block must
// differ from there on: that is what lets a prefix cache hit on LLMServingSim traces.
TEST(Readers, LlmServingSimHashesSharedTokenPrefixes) {
  auto ids = [](int n, int first_different, int offset) {
    std::string s = "[";
    for (int i = 0; i < n; ++i) {
      s += (i ? ", " : "") + std::to_string(i < first_different ? i % 1000 : i % 1000 + offset);
    }
    return s + "]";
  };
  TempDir dir;
  std::string text;
  text +=
      "{\"input_toks\": 1300, \"output_toks\": 4, \"arrival_time_ns\": 100, \"input_tok_ids\": " +
      ids(1300, 1300, 0) + ", \"output_tok_ids\": [1, 2, 3, 4]}\n";
  text +=
      "{\"input_toks\": 1300, \"output_toks\": 4, \"arrival_time_ns\": 200, \"input_tok_ids\": " +
      ids(1300, 1100, 7) + "}\n";
  text +=
      "{\"input_toks\": 1000, \"output_toks\": 4, \"arrival_time_ns\": 300, \"input_tok_ids\": " +
      ids(1000, 1000, 0) + "}\n";
  text += "{\"input_toks\": 10, \"output_toks\": 4, \"arrival_time_ns\": 400}\n";
  const Trace t = read_trace(dir.write("s.jsonl", text));
  EXPECT_EQ(t.format, TraceFormat::kLlmServingSim);
  ASSERT_EQ(t.requests.size(), 4u);
  const auto& a = t.requests[0].prefix_hashes;
  const auto& b = t.requests[1].prefix_hashes;
  const auto& c = t.requests[2].prefix_hashes;
  ASSERT_EQ(a.size(), 3u);  // 512 + 512 + 276
  ASSERT_EQ(b.size(), 3u);
  ASSERT_EQ(c.size(), 2u);  // 512 + 488
  EXPECT_EQ(a[0], b[0]);
  EXPECT_EQ(a[1], b[1]);
  EXPECT_NE(a[2], b[2]);  // tokens differ from 1100 on
  EXPECT_EQ(a[0], c[0]);
  EXPECT_NE(a[1], c[1]);  // a full block is not the same as a 488-token one
  EXPECT_TRUE(t.requests[3].prefix_hashes.empty());
  EXPECT_EQ(t.requests[3].arrival.ns(), 300);
}

TEST(Readers, NativeWithCommentsAndOptionalColumns) {
  TempDir dir;
  const auto p = dir.write("n.csv",
                           "# flowkv-trace v1\n"
                           "# made by hand\n"
                           "arrival_ns,prompt_tokens,output_tokens,prefix_hashes\n"
                           "1000,10,2,5 6  7\n"
                           "# a comment between rows\n"
                           "1500,20,3,\n");
  const Trace t = read_trace(p);
  EXPECT_EQ(t.format, TraceFormat::kNative);
  ASSERT_EQ(t.requests.size(), 2u);
  EXPECT_EQ(t.requests[0].prefix_hashes, (std::vector<uint64_t>{5, 6, 7}));
  EXPECT_EQ(t.requests[1].arrival.ns(), 500);
  EXPECT_EQ(t.requests[1].slo_class, 0);
}

TEST(Readers, ForcedFormatOverridesDetection) {
  TempDir dir;
  // A Vidur header, read as Azure: the Azure columns are missing, and the error says so.
  const auto p = dir.write("v.csv", "arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,1,1\n");
  EXPECT_EQ(read_trace(p, TraceFormat::kVidur).requests.size(), 1u);
  const std::string msg = testing::input_error_of([&] { read_trace(p, TraceFormat::kAzure); });
  EXPECT_NE(msg.find("missing column 'TIMESTAMP'"), std::string::npos) << msg;
}

TEST(Readers, FormatNamesRoundTrip) {
  for (TraceFormat f : {TraceFormat::kAuto, TraceFormat::kAzure, TraceFormat::kMooncake,
                        TraceFormat::kVidur, TraceFormat::kLlmServingSim, TraceFormat::kApex,
                        TraceFormat::kBurstGpt, TraceFormat::kNative}) {
    EXPECT_EQ(parse_trace_format(to_string(f)), f);
  }
  const std::string msg = testing::input_error_of([] { parse_trace_format("csv"); });
  EXPECT_NE(msg.find("unknown trace format 'csv'"), std::string::npos) << msg;
}

}  // namespace
}  // namespace flowkv::traces
