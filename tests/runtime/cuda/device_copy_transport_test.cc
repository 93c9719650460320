// DeviceCopyTransport moves exactly the planned copies (both engines), reports the calls it
// issued, and honours its state machine: a wait that outlasts its timeout ends kTimedOut, a
// pending transfer can be canceled, a pending one cannot be released, and waits never block past
// their deadline.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <random>
#include <vector>

#include "core/base/error.h"
#include "core/kv/transfer_plan.h"
#include "kernels/cuda_check.h"
#include "kernels/stream_delay.h"
#include "runtime/cuda/cuda_handles.h"
#include "runtime/cuda/device_copy_transport.h"
#include "runtime/cuda/kv_pool.h"

namespace flowkv::runtime {
namespace {

core::KvGeometry shape() {
  core::KvGeometry g;
  g.num_layers = 3;
  g.num_kv_heads = 2;
  g.head_dim = 64;
  g.block_size = 16;
  g.dtype_bytes = 2;
  return g;
}

class DeviceCopy : public ::testing::TestWithParam<CopyEngine> {
 protected:
  void SetUp() override {
    if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device: the copy transport cannot run";
  }
};

std::vector<uint8_t> random_bytes(int64_t n, std::mt19937_64& rng) {
  std::vector<uint8_t> v(static_cast<size_t>(n));
  for (size_t i = 0; i < v.size(); i += 8) {
    const uint64_t x = rng();
    std::memcpy(v.data() + i, &x, std::min<size_t>(8, v.size() - i));
  }
  return v;
}

// A request spread over several runs on each side (as in pools that have served for a while),
// moved by the merged plan: several copies of different lengths.
TEST_P(DeviceCopy, MovesThePlannedBytesBetweenFragmentedPools) {
  KvPoolOptions o;
  o.num_blocks = 200;
  KvPool src(shape(), o), dst(shape(), o);
  const core::BlockList sb = {{core::BlockId{3}, 5}, {core::BlockId{40}, 12}, {core::BlockId{90}, 1},
                              {core::BlockId{150}, 22}};
  const core::BlockList db = {{core::BlockId{0}, 9}, {core::BlockId{100}, 30}, {core::BlockId{199}, 1}};
  const auto copies = core::plan_transfer(src.layout(), sb, dst.layout(), db, core::TransferMode::kMerged);
  // A copy ends wherever either side's run ends: after blocks 5, 9, 17, 18 and 39.
  ASSERT_EQ(copies.size(), 6u);

  std::mt19937_64 rng(9);
  const auto src_bytes = random_bytes(src.bytes(), rng);
  auto want = random_bytes(dst.bytes(), rng);
  FLOWKV_CUDA_CHECK(cudaMemcpy(src.data(), src_bytes.data(), src_bytes.size(), cudaMemcpyHostToDevice));
  FLOWKV_CUDA_CHECK(cudaMemcpy(dst.data(), want.data(), want.size(), cudaMemcpyHostToDevice));
  for (const auto& c : copies) {
    std::memcpy(want.data() + c.dst_offset, src_bytes.data() + c.src_offset, static_cast<size_t>(c.bytes));
  }

  DeviceCopyTransport t(GetParam());
  const TransferId id = t.submit({src.data(), dst.data(), copies});
  EXPECT_EQ(t.wait(id, core::Duration::seconds(30)), TransferState::kCompleted);
  EXPECT_EQ(t.poll(id), TransferState::kCompleted);
  EXPECT_EQ(t.calls(id), GetParam() == CopyEngine::kMemcpy ? static_cast<int64_t>(copies.size()) : 1);
  EXPECT_EQ(t.error(id), "");
  t.release(id);
  EXPECT_THROW(t.poll(id), core::Error);  // released ids are unknown

  std::vector<uint8_t> got(static_cast<size_t>(dst.bytes()));
  FLOWKV_CUDA_CHECK(cudaMemcpy(got.data(), dst.data(), got.size(), cudaMemcpyDeviceToHost));
  size_t wrong = 0;
  for (size_t i = 0; i < got.size(); ++i) wrong += got[i] != want[i];
  EXPECT_EQ(wrong, 0u);
}

TEST_P(DeviceCopy, WaitPastItsTimeoutEndsTimedOutWithinTheDeadline) {
  DeviceBuffer a(1 << 20), b(1 << 20);
  DeviceCopyTransport t(GetParam());
  kernels::delay_stream(t.stream(), 500'000'000);  // the stream is busy for 0.5 s
  auto start = std::chrono::steady_clock::now();
  const TransferId id = t.submit({a.data(), b.data(), {{0, 0, 1 << 20}}});
  // Submitting only enqueues: it must not wait for the busy stream (a pageable upload would).
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
  start = std::chrono::steady_clock::now();
  EXPECT_EQ(t.wait(id, core::Duration::millis(20)), TransferState::kTimedOut);
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_LT(waited, std::chrono::milliseconds(300)) << "wait overran its 20 ms timeout";
  EXPECT_NE(t.error(id), "");
  // Final: a later wait does not turn it into kCompleted.
  EXPECT_EQ(t.wait(id, core::Duration::seconds(5)), TransferState::kTimedOut);
  t.release(id);  // waits for the device work, so a and b may be freed afterwards
}

TEST_P(DeviceCopy, CancelAPendingTransferAndRefuseReleasingOneStillPending) {
  DeviceBuffer a(1 << 20), b(1 << 20);
  DeviceCopyTransport t(GetParam());
  kernels::delay_stream(t.stream(), 300'000'000);
  const TransferId pending = t.submit({a.data(), b.data(), {{0, 0, 4096}}});
  EXPECT_EQ(t.poll(pending), TransferState::kPending);
  EXPECT_THROW(t.release(pending), core::Error);
  t.cancel(pending);
  EXPECT_EQ(t.poll(pending), TransferState::kCanceled);
  t.release(pending);
  const TransferId next = t.submit({a.data(), b.data(), {{4096, 0, 4096}}});
  EXPECT_EQ(t.wait(next, core::Duration::seconds(30)), TransferState::kCompleted);
  t.cancel(next);  // canceling a finished transfer changes nothing
  EXPECT_EQ(t.poll(next), TransferState::kCompleted);
  t.release(next);
}

TEST_P(DeviceCopy, EmptyPlanCompletesWithNoCalls) {
  DeviceCopyTransport t(GetParam());
  const TransferId id = t.submit({nullptr, nullptr, {}});
  EXPECT_EQ(t.wait(id, core::Duration::seconds(5)), TransferState::kCompleted);
  EXPECT_EQ(t.calls(id), 0);
  t.release(id);
}

INSTANTIATE_TEST_SUITE_P(Engines, DeviceCopy,
                         ::testing::Values(CopyEngine::kMemcpy, CopyEngine::kFusedKernel),
                         [](const auto& info) {
                           return info.param == CopyEngine::kMemcpy ? "memcpy" : "fused";
                         });

}  // namespace
}  // namespace flowkv::runtime
