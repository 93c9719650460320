// HostCopyTransport: the copies of a core::plan_transfer between two host pools move exactly
// the request's bytes, one memcpy per planned copy (calls), and the states follow
// runtime/transport.h.
#include "runtime/cpu/host_copy_transport.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/base/error.h"
#include "core/kv/transfer_plan.h"

namespace flowkv::runtime {
namespace {

using core::BlockId;
using core::BlockRun;
using core::LayoutKind;
using core::TransferMode;

core::KvLayout layout(LayoutKind kind, int64_t blocks) {
  core::KvLayout l;
  l.kind = kind;
  l.geometry = {3, 2, 8, 4, 2, blocks};  // layers, kv heads, head_dim, block size, bf16
  return l;
}

// A pool whose every byte says where it is.
std::vector<std::byte> numbered(int64_t bytes, int salt) {
  std::vector<std::byte> v(static_cast<size_t>(bytes));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<std::byte>((i * 7 + salt) & 0xFF);
  return v;
}

struct Case {
  LayoutKind src, dst;
  TransferMode mode;
};

class HostCopy : public ::testing::TestWithParam<Case> {};

TEST_P(HostCopy, MovesExactlyTheRequestsChunks) {
  const Case c = GetParam();
  const core::KvLayout src = layout(c.src, 16), dst = layout(c.dst, 12);
  const std::vector<BlockRun> src_blocks = {{BlockId{3}, 2}, {BlockId{9}, 1}, {BlockId{12}, 2}};
  const std::vector<BlockRun> dst_blocks = {{BlockId{0}, 3}, {BlockId{7}, 2}};
  const std::vector<int64_t> src_ids = {3, 4, 9, 12, 13}, dst_ids = {0, 1, 2, 7, 8};
  const std::vector<core::Copy> plan = core::plan_transfer(src, src_blocks, dst, dst_blocks, c.mode);
  std::vector<std::byte> a = numbered(src.geometry.pool_bytes(), 1);
  std::vector<std::byte> b = numbered(dst.geometry.pool_bytes(), 99);
  const std::vector<std::byte> b_before = b;

  HostCopyTransport t;
  const TransferId id = t.submit({a.data(), b.data(), plan, -1});
  EXPECT_EQ(t.poll(id), TransferState::kCompleted);
  EXPECT_EQ(t.wait(id, core::Duration::seconds(0)), TransferState::kCompleted);
  EXPECT_EQ(t.calls(id), static_cast<int64_t>(plan.size()));
  EXPECT_EQ(t.error(id), "");

  // Every chunk of every moved block equals its source; nothing else changed.
  const int64_t chunk = src.geometry.chunk_bytes();
  std::vector<bool> touched(b.size(), false);
  for (size_t k = 0; k < src_ids.size(); ++k) {
    for (int32_t l = 0; l < 3; ++l) {
      for (int32_t kv = 0; kv < 2; ++kv) {
        const int64_t s = src.chunk_offset(l, kv, src_ids[k]);
        const int64_t d = dst.chunk_offset(l, kv, dst_ids[k]);
        EXPECT_EQ(std::memcmp(&a[s], &b[d], chunk), 0) << "block " << k << " layer " << l;
        for (int64_t i = 0; i < chunk; ++i) touched[d + i] = true;
      }
    }
  }
  for (size_t i = 0; i < b.size(); ++i) {
    if (!touched[i]) {
      ASSERT_EQ(b[i], b_before[i]) << "byte " << i << " outside the request";
    }
  }
  t.cancel(id);  // final already: no change
  EXPECT_EQ(t.poll(id), TransferState::kCompleted);
  t.release(id);
  EXPECT_EQ(t.live_transfers(), 0);
}

INSTANTIATE_TEST_SUITE_P(
    LayoutsAndModes, HostCopy,
    ::testing::Values(Case{LayoutKind::kPagedPerLayer, LayoutKind::kPagedPerLayer, TransferMode::kPerBlock},
                      Case{LayoutKind::kPagedPerLayer, LayoutKind::kPagedPerLayer, TransferMode::kMerged},
                      Case{LayoutKind::kBlockContiguous, LayoutKind::kBlockContiguous, TransferMode::kPerBlock},
                      Case{LayoutKind::kBlockContiguous, LayoutKind::kBlockContiguous, TransferMode::kMerged},
                      Case{LayoutKind::kBlockContiguous, LayoutKind::kPagedPerLayer, TransferMode::kMerged},
                      Case{LayoutKind::kPagedPerLayer, LayoutKind::kBlockContiguous, TransferMode::kPerBlock}));

TEST(HostCopy, CallCountsFollowThePlan) {
  // 5 blocks, 3 layers: per-block paged = 2 * 3 * 5 copies; merged block-contiguous with runs
  // aligned on both sides = one per common run.
  const core::KvLayout paged = layout(LayoutKind::kPagedPerLayer, 16);
  const core::KvLayout contiguous = layout(LayoutKind::kBlockContiguous, 16);
  const std::vector<BlockRun> s = {{BlockId{0}, 5}}, d = {{BlockId{8}, 5}};
  std::vector<std::byte> a(static_cast<size_t>(paged.geometry.pool_bytes()));
  std::vector<std::byte> b(a.size());
  HostCopyTransport t;
  const TransferId per_block = t.submit(
      {a.data(), b.data(), core::plan_transfer(paged, s, paged, d, TransferMode::kPerBlock), -1});
  const TransferId merged = t.submit({a.data(), b.data(),
                                      core::plan_transfer(contiguous, s, contiguous, d, TransferMode::kMerged), -1});
  EXPECT_EQ(t.calls(per_block), 30);
  EXPECT_EQ(t.calls(merged), 1);
  EXPECT_NE(static_cast<uint64_t>(per_block), static_cast<uint64_t>(merged));
  EXPECT_EQ(t.live_transfers(), 2);
  const TransferId empty = t.submit({nullptr, nullptr, {}, -1});
  EXPECT_EQ(t.poll(empty), TransferState::kCompleted);
  EXPECT_EQ(t.calls(empty), 0);
}

TEST(HostCopy, BadArgumentsAndUnknownIdsAreInternalErrors) {
  HostCopyTransport t;
  std::vector<std::byte> a(64), b(64);
  const auto kind_of = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const core::Error& e) {
      return e.kind();
    }
    return core::ErrorKind::kRuntime;  // "no error" stand-in
  };
  EXPECT_EQ(kind_of([&] { t.submit({nullptr, b.data(), {{0, 0, 8}}, -1}); }),
            core::ErrorKind::kInternal);
  EXPECT_EQ(kind_of([&] { t.submit({a.data(), b.data(), {{0, -1, 8}}, -1}); }),
            core::ErrorKind::kInternal);
  EXPECT_EQ(kind_of([&] { t.submit({a.data(), a.data(), {{0, 4, 8}}, -1}); }),
            core::ErrorKind::kInternal);  // overlapping ranges
  EXPECT_EQ(kind_of([&] { t.poll(TransferId{12345}); }), core::ErrorKind::kInternal);
  const TransferId id = t.submit({a.data(), b.data(), {{0, 0, 8}}, -1});
  t.release(id);
  EXPECT_EQ(kind_of([&] { t.release(id); }), core::ErrorKind::kInternal);
  EXPECT_EQ(kind_of([&] { t.calls(id); }), core::ErrorKind::kInternal);
  EXPECT_STREQ(t.name(), "host-copy");
}

}  // namespace
}  // namespace flowkv::runtime
