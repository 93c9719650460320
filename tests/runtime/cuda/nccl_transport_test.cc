// The NCCL transport's planning (one operation per planned copy, groups within NCCL's limit,
// split identically on both sides) is checked without a GPU; its error macro formats NCCL's own
// message; on a GPU, a 1-rank communicator sends a plan to itself and the bytes arrive. Two ranks
// need two GPUs (NCCL refuses two ranks on one device): that run is bench-transfer's, issue 9.
#include <gtest/gtest.h>

#include <nccl.h>

#include <cstring>
#include <random>
#include <vector>

#include "core/base/error.h"
#include "kernels/cuda_check.h"
#include "runtime/cuda/cuda_handles.h"
#include "runtime/cuda/nccl_transport.h"

namespace flowkv::runtime {
namespace {

TEST(PlanNcclGroups, OneOperationPerNonEmptyCopyInPlanOrder) {
  const std::vector<core::Copy> copies = {{0, 100, 16}, {32, 0, 0}, {64, 200, 48}};
  const auto groups = plan_nccl_groups(copies, /*send=*/true, /*recv=*/false, 1, kMaxOpsPerGroup);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0], (std::vector<NcclOp>{{true, 1, 0, 16}, {true, 1, 64, 48}}));
  const auto recv = plan_nccl_groups(copies, false, true, 0, kMaxOpsPerGroup);
  ASSERT_EQ(recv.size(), 1u);
  EXPECT_EQ(recv[0], (std::vector<NcclOp>{{false, 0, 100, 16}, {false, 0, 200, 48}}));
}

TEST(PlanNcclGroups, SplitsIntoGroupsOfAtMostMaxOpsAndKeepsLoopbackPairsTogether) {
  std::vector<core::Copy> copies;
  for (int i = 0; i < 2500; ++i) copies.push_back({i * 64, i * 64, 64});
  const auto send = plan_nccl_groups(copies, true, false, 1, 1024);
  ASSERT_EQ(send.size(), 3u);
  EXPECT_EQ(send[0].size(), 1024u);
  EXPECT_EQ(send[2].size(), 2500u - 2048u);
  // The receiver's groups line up with the sender's: same sizes, same order.
  const auto recv = plan_nccl_groups(copies, false, true, 0, 1024);
  ASSERT_EQ(recv.size(), send.size());
  for (size_t g = 0; g < send.size(); ++g) EXPECT_EQ(recv[g].size(), send[g].size());
  // Loopback: a copy's send and recv never straddle two groups.
  const auto loop = plan_nccl_groups(copies, true, true, 0, 1023);
  size_t total = 0;
  for (const auto& g : loop) {
    ASSERT_LE(g.size(), 1023u);
    ASSERT_EQ(g.size() % 2, 0u);
    for (size_t k = 0; k < g.size(); k += 2) {
      EXPECT_TRUE(g[k].send);
      EXPECT_FALSE(g[k + 1].send);
      EXPECT_EQ(g[k].offset, g[k + 1].offset);
    }
    total += g.size();
  }
  EXPECT_EQ(total, 5000u);
}

TEST(ResolvePeer, TheOtherRankOrSelf) {
  EXPECT_EQ(resolve_peer(-1, 0, 2), 1);
  EXPECT_EQ(resolve_peer(-1, 1, 2), 0);
  EXPECT_EQ(resolve_peer(-1, 0, 1), 0);
  EXPECT_EQ(resolve_peer(2, 0, 4), 2);
  EXPECT_THROW(resolve_peer(-1, 0, 3), core::Error);
  EXPECT_THROW(resolve_peer(5, 0, 4), core::Error);
}

TEST(NcclCheck, ThrowsRuntimeErrorWithNcclsMessage) {
  try {
    FLOWKV_NCCL_CHECK(ncclInvalidArgument);
    FAIL();
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::kRuntime);
    const std::string what = e.what();
    EXPECT_NE(what.find("ncclInvalidArgument"), std::string::npos) << what;
    EXPECT_NE(what.find(ncclGetErrorString(ncclInvalidArgument)), std::string::npos) << what;
  }
}

TEST(NcclTransportLoopback, OneRankSendsAPlanToItself) {
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device: NCCL cannot run";
  const int64_t bytes = 4 << 20;
  std::vector<core::Copy> copies;
  for (int64_t i = 0; i < 3000; ++i) copies.push_back({i * 1024, bytes - (i + 1) * 1024, 1024});
  std::mt19937_64 rng(5);
  std::vector<uint64_t> src(bytes / 8), poison(bytes / 8);
  for (auto& w : src) w = rng();
  for (auto& w : poison) w = rng();
  std::vector<uint64_t> want = poison;
  for (const auto& c : copies) std::memcpy(reinterpret_cast<char*>(want.data()) + c.dst_offset,
                                           reinterpret_cast<const char*>(src.data()) + c.src_offset, 1024);
  DeviceBuffer a(bytes), b(bytes);
  FLOWKV_CUDA_CHECK(cudaMemcpy(a.data(), src.data(), bytes, cudaMemcpyHostToDevice));
  FLOWKV_CUDA_CHECK(cudaMemcpy(b.data(), poison.data(), bytes, cudaMemcpyHostToDevice));

  NcclTransport t(RankInfo{}, core::Duration::seconds(60));
  const TransferId id = t.submit({a.data(), b.data(), copies});
  EXPECT_EQ(t.wait(id, core::Duration::seconds(60)), TransferState::kCompleted) << t.error(id);
  EXPECT_EQ(t.calls(id), 2 * 3000);  // a send and a receive per copy
  t.release(id);
  t.barrier(core::Duration::seconds(30));
  std::vector<uint64_t> got(bytes / 8);
  FLOWKV_CUDA_CHECK(cudaMemcpy(got.data(), b.data(), bytes, cudaMemcpyDeviceToHost));
  EXPECT_TRUE(got == want);
}

}  // namespace
}  // namespace flowkv::runtime
