// Writers: native -> native is byte-identical, Vidur and Mooncake output reads back to the same
// requests, and a file is either fully written or not there at all.
#include "traces/trace_writer.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/traces/test_files.h"
#include "traces/generator.h"
#include "traces/trace.h"

namespace flowkv::traces {
namespace {

using testing::TempDir;

Trace sample_trace() {
  GeneratorSpec spec = preset_spec("multi_news");
  spec.requests = 500;
  spec.arrival.rate_rps = 7.0;
  spec.shared_prefix = SharedPrefixSpec{700, 0.3};
  return generate(spec, 17);
}

void expect_same_requests(const Trace& a, const Trace& b, bool with_hashes) {
  ASSERT_EQ(a.requests.size(), b.requests.size());
  for (size_t i = 0; i < a.requests.size(); ++i) {
    ASSERT_EQ(a.requests[i].arrival, b.requests[i].arrival) << i;
    ASSERT_EQ(a.requests[i].prompt_tokens, b.requests[i].prompt_tokens) << i;
    ASSERT_EQ(a.requests[i].output_tokens, b.requests[i].output_tokens) << i;
    if (with_hashes) {
      ASSERT_EQ(a.requests[i].prefix_hashes, b.requests[i].prefix_hashes) << i;
    }
  }
}

TEST(TraceWriter, NativeRoundTripIsByteIdentical) {
  TempDir dir;
  Trace t = sample_trace();
  t.requests[3].slo_class = 2;
  const auto first = dir.path() / "first.csv";
  write_trace_file(first, t, TraceFormat::kNative);
  const Trace back = read_trace(first);
  EXPECT_EQ(back.format, TraceFormat::kNative);
  expect_same_requests(t, back, true);
  EXPECT_EQ(back.requests[3].slo_class, 2);
  const auto second = dir.path() / "second.csv";
  write_trace_file(second, back, TraceFormat::kNative);
  EXPECT_EQ(testing::read_file(first), testing::read_file(second));
}

TEST(TraceWriter, RealTraceRoundTripsThroughNative) {
  const auto path = testing::real_trace("mooncake_conversation_first300.jsonl").empty()
                        ? testing::real_trace("conversation_trace.jsonl")
                        : testing::real_trace("mooncake_conversation_first300.jsonl");
  ASSERT_FALSE(path.empty());
  TempDir dir;
  const Trace t = read_trace(path);
  write_trace_file(dir.path() / "n.csv", t, TraceFormat::kNative);
  expect_same_requests(t, read_trace(dir.path() / "n.csv"), true);
}

TEST(TraceWriter, VidurAndMooncakeReadBack) {
  TempDir dir;
  const Trace t = sample_trace();
  write_trace_file(dir.path() / "v.csv", t, TraceFormat::kVidur);
  const Trace v = read_trace(dir.path() / "v.csv");
  EXPECT_EQ(v.format, TraceFormat::kVidur);
  expect_same_requests(t, v, false);  // Vidur has no hashes; times are exact to the ns
  write_trace_file(dir.path() / "m.jsonl", t, TraceFormat::kMooncake);
  const Trace m = read_trace(dir.path() / "m.jsonl");
  EXPECT_EQ(m.format, TraceFormat::kMooncake);
  expect_same_requests(t, m, true);
}

TEST(TraceWriter, FormatsTheDocumentedText) {
  Trace t;
  core::Request r;
  r.arrival = core::Time::from_nanos(0);
  r.prompt_tokens = 374;
  r.output_tokens = 44;
  t.requests.push_back(r);
  r.arrival = core::Time::from_nanos(4'314'579'500);
  r.prompt_tokens = 396;
  r.output_tokens = 109;
  r.prefix_hashes = {7, 18446744073709551615ull};
  t.requests.push_back(r);
  EXPECT_EQ(format_trace(t, TraceFormat::kNative),
            "# flowkv-trace v1\narrival_ns,prompt_tokens,output_tokens,slo_class,prefix_hashes\n"
            "0,374,44,0,\n4314579500,396,109,0,7 18446744073709551615\n");
  EXPECT_EQ(format_trace(t, TraceFormat::kVidur),
            "arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,374,44\n4.3145795,396,109\n");
  EXPECT_EQ(format_trace(t, TraceFormat::kMooncake),
            "{\"timestamp\": 0, \"input_length\": 374, \"output_length\": 44, \"hash_ids\": []}\n"
            "{\"timestamp\": 4314.5795, \"input_length\": 396, \"output_length\": 109, "
            "\"hash_ids\": [7, 18446744073709551615]}\n");
  const std::string msg = testing::input_error_of([&] { format_trace(t, TraceFormat::kAzure); });
  EXPECT_EQ(msg, "cannot write traces in the 'azure' format (writable: native, vidur, mooncake)");
}

TEST(TraceWriter, AtomicWriteLeavesNoTemporaryFiles) {
  TempDir dir;
  const auto target = dir.path() / "out.csv";
  write_file_atomically(target, "one");
  write_file_atomically(target, "two");
  EXPECT_EQ(testing::read_file(target), "two");
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1);
  // A target in a folder that does not exist: an error, and nothing is created.
  EXPECT_THROW(write_file_atomically(dir.path() / "missing" / "out.csv", "x"), core::Error);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "missing"));
}

}  // namespace
}  // namespace flowkv::traces
