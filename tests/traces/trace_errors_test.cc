// Bad trace input stops the read with one message naming the file, the line, the column and
// the value (an input error: exit code 2). Each case writes a small malformed file.
#include <gtest/gtest.h>

#include <string>

#include "tests/traces/test_files.h"
#include "traces/trace.h"

namespace flowkv::traces {
namespace {

using testing::input_error_of;
using testing::TempDir;

// Reads `text` written to a file called `name`; returns the error message with the temporary
// directory replaced by "DIR" so expectations can spell the whole message.
std::string error_for(const std::string& name, const std::string& text,
                      TraceFormat format = TraceFormat::kAuto) {
  TempDir dir;
  const auto path = dir.write(name, text);
  std::string msg = input_error_of([&] { read_trace(path, format); });
  const std::string prefix = dir.path().string();
  for (size_t pos; (pos = msg.find(prefix)) != std::string::npos;)
    msg.replace(pos, prefix.size(), "DIR");
  return msg;
}

constexpr const char* kAzureHeader = "TIMESTAMP,ContextTokens,GeneratedTokens\n";

TEST(TraceErrors, NonNumericTokenCountNamesFileLineColumnAndValue) {
  EXPECT_EQ(error_for("a.csv", std::string(kAzureHeader) + "2023-11-16 18:15:46.6805900,374,44\n"
                                                           "2023-11-16 18:15:47.0000000,abc,44\n"),
            "DIR/a.csv:3: column ContextTokens: expected a non-negative integer, got 'abc'");
}

TEST(TraceErrors, NegativeLength) {
  EXPECT_EQ(error_for("a.csv", std::string(kAzureHeader) + "2023-11-16 18:15:46,374,-5\n"),
            "DIR/a.csv:2: column GeneratedTokens: expected a non-negative integer, got '-5'");
}

TEST(TraceErrors, FractionalLength) {
  EXPECT_EQ(error_for("v.csv", "arrived_at,num_prefill_tokens,num_decode_tokens\n0.5,12.5,3\n"),
            "DIR/v.csv:2: column num_prefill_tokens: expected a non-negative integer, got '12.5'");
}

TEST(TraceErrors, BadWallClock) {
  const std::string msg =
      error_for("a.csv", std::string(kAzureHeader) + "2023-02-30 10:00:00,1,1\n");
  EXPECT_EQ(msg,
            "DIR/a.csv:2: column TIMESTAMP: expected a date and time like "
            "'2023-11-16 18:15:46.6805900', got '2023-02-30 10:00:00'");
}

TEST(TraceErrors, TimestampsGoingBackwardsInAnOrderedFormat) {
  const std::string msg = error_for("a.csv", std::string(kAzureHeader) +
                                                 "2023-11-16 18:15:46.5,1,1\n"
                                                 "2023-11-16 18:15:47.5,1,1\n"
                                                 "2023-11-16 18:15:47.0,1,1\n");
  EXPECT_EQ(msg,
            "DIR/a.csv:4: column TIMESTAMP: expected a time no earlier than "
            "'2023-11-16 18:15:47.5' on line 3 (azure traces are in arrival order), got "
            "'2023-11-16 18:15:47.0'");
  EXPECT_NE(
      error_for("v.csv", "arrived_at,num_prefill_tokens,num_decode_tokens\n2.0,1,1\n1.0,1,1\n")
          .find("DIR/v.csv:3: column arrived_at: expected a time no earlier than '2.0'"),
      std::string::npos);
  EXPECT_NE(error_for("m.jsonl",
                      "{\"timestamp\": 5, \"input_length\": 1, \"output_length\": 1}\n"
                      "{\"timestamp\": 4, \"input_length\": 1, \"output_length\": 1}\n")
                .find("DIR/m.jsonl:2: column timestamp: expected a time no earlier than '5'"),
            std::string::npos);
  EXPECT_NE(error_for("s.jsonl",
                      "{\"input_toks\": 1, \"output_toks\": 1, \"arrival_time_ns\": 9}\n"
                      "{\"input_toks\": 1, \"output_toks\": 1, \"arrival_time_ns\": 8}\n")
                .find("DIR/s.jsonl:2: column arrival_time_ns"),
            std::string::npos);
  EXPECT_NE(error_for("n.csv",
                      "# flowkv-trace v1\narrival_ns,prompt_tokens,output_tokens\n5,1,1\n4,1,1\n")
                .find("DIR/n.csv:4: column arrival_ns"),
            std::string::npos);
}

TEST(TraceErrors, UnorderedFormatsAreSortedInstead) {
  TempDir dir;
  const auto apex =
      dir.write("x.jsonl",
                "{\"StartTimeOffset\": 9, \"ContextTokens\": 1, \"GeneratedTokens\": 1}\n"
                "{\"StartTimeOffset\": 8, \"ContextTokens\": 2, \"GeneratedTokens\": 1}\n");
  EXPECT_EQ(read_trace(apex).requests.front().prompt_tokens, 2);
}

TEST(TraceErrors, WrongColumnCount) {
  EXPECT_EQ(error_for("a.csv", std::string(kAzureHeader) + "2023-11-16 18:15:46,374\n"),
            "DIR/a.csv:2: expected 3 columns as in the header, got 2 in '2023-11-16 18:15:46,374'");
}

TEST(TraceErrors, EmptyFileAndHeaderOnly) {
  EXPECT_EQ(error_for("e.csv", ""), "DIR/e.csv: empty trace file (no lines)");
  EXPECT_EQ(error_for("e.csv", "\n\n"), "DIR/e.csv: empty trace file (no lines)");
  EXPECT_EQ(
      error_for("h.csv", kAzureHeader),
      "DIR/h.csv: empty trace (azure format): it has no data rows; a trace needs at least one "
      "request");
}

TEST(TraceErrors, EveryRowSkippedIsAnEmptyTraceWithReasons) {
  EXPECT_EQ(error_for("z.csv", std::string(kAzureHeader) +
                                   "2023-11-16 18:15:46,5,0\n2023-11-16 18:15:47,0,3\n"),
            "DIR/z.csv: empty trace (azure format): all 2 rows were skipped (zero_input_tokens: 1, "
            "zero_output_tokens: 1); a trace needs at least one request");
}

TEST(TraceErrors, UnknownFormat) {
  const std::string msg = error_for("u.csv", "time,prompt,output\n1,2,3\n");
  EXPECT_EQ(msg.rfind("DIR/u.csv:1: cannot tell the trace format from 'time,prompt,output'", 0), 0u)
      << msg;
}

TEST(TraceErrors, MissingFile) {
  const std::string msg = input_error_of([] { read_trace("/nonexistent/trace.csv"); });
  EXPECT_EQ(msg.rfind("/nonexistent/trace.csv: cannot open the trace file", 0), 0u) << msg;
}

TEST(TraceErrors, MalformedJsonLine) {
  const std::string msg =
      error_for("m.jsonl",
                "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1}\n"
                "{\"timestamp\": 1, \"input_length\": 2, \"output_length\": 1\n");
  EXPECT_EQ(msg.rfind("DIR/m.jsonl:2: malformed JSON (unterminated object", 0), 0u) << msg;
}

TEST(TraceErrors, JsonMissingKeyAndWrongTypes) {
  EXPECT_EQ(error_for("m.jsonl", "{\"timestamp\": 0, \"input_length\": 1}\n"),
            "DIR/m.jsonl:1: column output_length: missing (every row needs it)");
  EXPECT_EQ(
      error_for("m.jsonl", "{\"timestamp\": 0, \"input_length\": \"12\", \"output_length\": 1}\n"),
      "DIR/m.jsonl:1: column input_length: expected a non-negative integer, got '\"12\"'");
  EXPECT_EQ(
      error_for("m.jsonl", "{\"timestamp\": \"now\", \"input_length\": 1, \"output_length\": 1}\n"),
      "DIR/m.jsonl:1: column timestamp: expected a number of milliseconds, got '\"now\"'");
  EXPECT_EQ(
      error_for(
          "m.jsonl",
          "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": [1, -2]}\n"),
      "DIR/m.jsonl:1: column hash_ids: expected an array of non-negative integers, got '[1, -2]'");
  EXPECT_EQ(error_for("x.jsonl",
                      "{\"StartTimeOffset\": 1, \"ContextTokens\": -3, \"GeneratedTokens\": 1}\n"),
            "DIR/x.jsonl:1: column ContextTokens: expected a non-negative integer, got '-3'");
}

TEST(TraceErrors, LlmServingSimTokenIdsMustMatchTheCount) {
  EXPECT_EQ(error_for("s.jsonl",
                      "{\"input_toks\": 3, \"output_toks\": 1, \"arrival_time_ns\": 0, "
                      "\"input_tok_ids\": [1, 2]}\n"),
            "DIR/s.jsonl:1: column input_tok_ids: holds 2 token ids but input_toks is 3");
}

TEST(TraceErrors, NativeVersionAndHashes) {
  EXPECT_EQ(
      error_for("n.csv", "# flowkv-trace v2\narrival_ns,prompt_tokens,output_tokens\n0,1,1\n"),
      "DIR/n.csv:1: unsupported native trace version 'v2' (this build reads v1)");
  EXPECT_EQ(
      error_for(
          "n.csv",
          "# flowkv-trace v1\narrival_ns,prompt_tokens,output_tokens,prefix_hashes\n0,1,1,12 x3\n"),
      "DIR/n.csv:3: column prefix_hashes: expected unsigned 64-bit integers separated by "
      "spaces, got '12 x3'");
  EXPECT_EQ(
      error_for("n.csv", "# flowkv-trace v1\narrival_ns,prompt_tokens,tokens_out\n0,1,1\n"),
      "DIR/n.csv:2: unexpected column 'tokens_out' in the native header (columns: arrival_ns, "
      "prompt_tokens, output_tokens, optional slo_class and prefix_hashes, each once)");
  EXPECT_EQ(
      error_for("n.csv", "arrival_ns,prompt_tokens,output_tokens\n0,1,1\n", TraceFormat::kNative),
      "DIR/n.csv:1: expected the native trace header '# flowkv-trace v1', got "
      "'arrival_ns,prompt_tokens,output_tokens'");
}

TEST(TraceErrors, UnterminatedQuote) {
  EXPECT_EQ(error_for("b.csv",
                      "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
                      "1,\"ChatGPT,10,10,20,API log\n"),
            "DIR/b.csv:2: unterminated quoted field");
}

}  // namespace
}  // namespace flowkv::traces
