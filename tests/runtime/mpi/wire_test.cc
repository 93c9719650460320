// The control plane's messages survive the trip: what rank 0 encodes is what a rank decodes, and
// a short or malformed message is refused (an error, never a read past its end).
#include <gtest/gtest.h>

#include "core/base/error.h"
#include "runtime/mpi/wire.h"

namespace flowkv::runtime {
namespace {

IterationJob sample_iteration() {
  IterationJob job;
  job.work = 42;
  job.node = 3;
  job.items = {{7, 0, 3, 1, false}, {9, 16, 1, 2, true}};
  job.tokens = {5, 6, 7, 8};
  job.blocks = {10, 11, 12};
  return job;
}

TEST(Wire, IterationRoundTrip) {
  const IterationJob job = sample_iteration();
  const wire::Bytes bytes = wire::encode(job);
  wire::Reader r(bytes);
  ASSERT_EQ(r.kind(), wire::Kind::kIteration);
  const IterationJob got = wire::decode_iteration(r);
  r.end();
  EXPECT_EQ(got.work, 42u);
  EXPECT_EQ(got.node, 3u);
  ASSERT_EQ(got.items.size(), 2u);
  EXPECT_EQ(got.items[1].request, 9u);
  EXPECT_EQ(got.items[1].start, 16);
  EXPECT_TRUE(got.items[1].sample);
  EXPECT_FALSE(got.items[0].sample);
  EXPECT_EQ(got.tokens, job.tokens);
  EXPECT_EQ(got.blocks, job.blocks);
}

TEST(Wire, TransferSidesRoundTrip) {
  TransferJob job;
  job.work = 5;
  job.src = 0;
  job.dst = 1;
  job.src_blocks = {{core::BlockId{4}, 2}};
  job.dst_blocks = {{core::BlockId{9}, 1}, {core::BlockId{20}, 1}};
  job.slow = 0.5;
  for (const int side : {-1, 0, 1}) {
    const wire::Bytes bytes = wire::encode(job, side, side < 0 ? -1 : 2);
    wire::Reader r(bytes);
    EXPECT_EQ(r.kind(), side < 0 ? wire::Kind::kTransfer : wire::Kind::kSide);
    int got_side = 9, peer = 9;
    const TransferJob got = wire::decode_transfer(r, got_side, peer);
    r.end();
    EXPECT_EQ(got_side, side);
    EXPECT_EQ(peer, side < 0 ? -1 : 2);
    EXPECT_EQ(got.src_blocks, job.src_blocks);
    EXPECT_EQ(got.dst_blocks, job.dst_blocks);
    EXPECT_EQ(got.slow, 0.5);
  }
}

TEST(Wire, ResultRoundTrip) {
  JobResult res;
  res.work = 77;
  res.state = core::WorkState::kFailed;
  res.next = {1, -1, 3};
  res.error = "D0: iteration failed: boom";
  res.queued = core::Duration::micros(12);
  res.ran = core::Duration::millis(3);
  const wire::Bytes bytes = wire::encode(res);
  wire::Reader r(bytes);
  const JobResult got = wire::decode_result(r);
  r.end();
  EXPECT_EQ(got.work, 77u);
  EXPECT_EQ(got.state, core::WorkState::kFailed);
  EXPECT_EQ(got.next, res.next);
  EXPECT_EQ(got.error, res.error);
  EXPECT_EQ(got.queued, res.queued);
  EXPECT_EQ(got.ran, res.ran);
}

TEST(Wire, ShortAndMalformedMessagesAreRefused) {
  wire::Bytes bytes = wire::encode(sample_iteration());
  for (size_t cut = 1; cut < bytes.size(); cut += 3) {
    wire::Bytes shorter(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut));
    wire::Reader r(shorter);
    EXPECT_THROW(wire::decode_iteration(r), core::Error) << "cut at " << cut;
  }
  EXPECT_THROW(wire::Reader(wire::Bytes{}), core::Error);
  EXPECT_THROW(wire::Reader(wire::Bytes{std::byte{200}}), core::Error);
  // Items that claim more tokens than the message carries.
  IterationJob lying = sample_iteration();
  lying.items[0].num_tokens = 40;
  const wire::Bytes b = wire::encode(lying);
  wire::Reader r(b);
  EXPECT_THROW(wire::decode_iteration(r), core::Error);
}

}  // namespace
}  // namespace flowkv::runtime
