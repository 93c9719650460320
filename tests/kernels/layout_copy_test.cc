// Block copies between KV layouts, and the gather / scatter of the vLLM-disagg path, put every
// (layer, K|V) chunk (or MLA latent chunk) of every listed block exactly where core::KvLayout
// says, and touch no other destination byte. CPU reference on random data, poisoned destination;
// geometries with chunks smaller than, equal to, larger than and not a multiple of the kernels'
// tile.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "core/base/error.h"
#include "kernels/cuda_check.h"
#include "kernels/device_query.h"
#include "kernels/layout_copy.h"

namespace flowkv::kernels {
namespace {

using core::KvGeometry;
using core::KvLayout;
using core::LayoutKind;

struct DeviceMemory {
  explicit DeviceMemory(size_t bytes) { FLOWKV_CUDA_CHECK(cudaMalloc(&ptr, std::max<size_t>(bytes, 1))); }
  ~DeviceMemory() { cudaFree(ptr); }
  void* ptr = nullptr;
};

std::vector<uint8_t> random_bytes(int64_t n, std::mt19937_64& rng) {
  std::vector<uint8_t> v(static_cast<size_t>(n));
  for (size_t i = 0; i < v.size(); i += 8) {
    const uint64_t x = rng();
    std::memcpy(v.data() + i, &x, std::min<size_t>(8, v.size() - i));
  }
  return v;
}

KvLayout layout(LayoutKind kind, KvGeometry g, int64_t blocks) {
  g.num_blocks = blocks;
  return KvLayout{kind, g};
}

// n distinct random block ids below `blocks`.
std::vector<int64_t> random_ids(int64_t n, int64_t blocks, std::mt19937_64& rng) {
  std::vector<int64_t> all(static_cast<size_t>(blocks));
  std::iota(all.begin(), all.end(), 0);
  std::shuffle(all.begin(), all.end(), rng);
  all.resize(static_cast<size_t>(n));
  return all;
}

void reference_copy(const KvLayout& sl, const std::vector<uint8_t>& src, const std::vector<int64_t>& sids,
                    const KvLayout& dl, std::vector<uint8_t>& dst, const std::vector<int64_t>& dids) {
  const int64_t chunk = sl.geometry.chunk_bytes();
  for (size_t i = 0; i < sids.size(); ++i) {
    for (int32_t l = 0; l < sl.geometry.num_layers; ++l) {
      for (int32_t kv = 0; kv < sl.geometry.kv_parts; ++kv) {
        std::memcpy(dst.data() + dl.chunk_offset(l, kv, dids[i]), src.data() + sl.chunk_offset(l, kv, sids[i]),
                    static_cast<size_t>(chunk));
      }
    }
  }
}

DeviceMemory upload(const void* data, size_t bytes) {
  DeviceMemory m(bytes);
  if (bytes) FLOWKV_CUDA_CHECK(cudaMemcpy(m.ptr, data, bytes, cudaMemcpyHostToDevice));
  return m;
}

std::vector<uint8_t> download(const DeviceMemory& m, int64_t bytes) {
  std::vector<uint8_t> v(static_cast<size_t>(bytes));
  FLOWKV_CUDA_CHECK(cudaMemcpy(v.data(), m.ptr, v.size(), cudaMemcpyDeviceToHost));
  return v;
}

size_t count_wrong(const std::vector<uint8_t>& got, const std::vector<uint8_t>& want) {
  size_t wrong = 0;
  for (size_t i = 0; i < got.size(); ++i) wrong += got[i] != want[i];
  return wrong;
}

struct Shape {
  const char* name;
  KvGeometry g;
};

KvGeometry geometry(int32_t layers, int32_t heads, int32_t head_dim, int32_t block_size) {
  KvGeometry g;
  g.num_layers = layers;
  g.num_kv_heads = heads;
  g.head_dim = head_dim;
  g.block_size = block_size;
  g.dtype_bytes = 2;
  return g;
}

// One MLA latent per token and layer (kv_parts 1), DeepSeek-V3's 576 elements.
KvGeometry mla(int32_t layers, int32_t block_size) {
  KvGeometry g = geometry(layers, 1, 576, block_size);
  g.kv_parts = 1;
  return g;
}

const Shape kShapes[] = {
    {"small chunk (512 B)", geometry(3, 2, 32, 4)},
    {"MLA latent (18 KiB chunk, one part per layer)", mla(3, 16)},
    {"Llama-3.1-8B's chunk (32 KiB)", geometry(2, 8, 128, 16)},
    {"64 KiB chunk (several tiles)", geometry(2, 8, 128, 32)},
    {"odd chunk (6912 B)", geometry(4, 3, 72, 16)},
};

class LayoutCopy : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_device_present()) GTEST_SKIP() << "no CUDA device: the layout kernels cannot run";
  }
};

TEST_F(LayoutCopy, EveryLayoutPairMatchesReference) {
  uint64_t seed = 1;
  for (const Shape& shape : kShapes) {
    for (LayoutKind sk : {LayoutKind::kPagedPerLayer, LayoutKind::kBlockContiguous}) {
      for (LayoutKind dk : {LayoutKind::kPagedPerLayer, LayoutKind::kBlockContiguous}) {
        SCOPED_TRACE(std::string(shape.name) + ": " + core::to_string(sk) + " -> " + core::to_string(dk));
        std::mt19937_64 rng(seed++);
        const KvLayout sl = layout(sk, shape.g, 13);
        const KvLayout dl = layout(dk, shape.g, 11);
        const int64_t n = 7;
        const auto sids = random_ids(n, 13, rng);
        const auto dids = random_ids(n, 11, rng);
        const auto src = random_bytes(sl.geometry.pool_bytes(), rng);
        auto want = random_bytes(dl.geometry.pool_bytes(), rng);  // the poison
        DeviceMemory d_src = upload(src.data(), src.size());
        DeviceMemory d_dst = upload(want.data(), want.size());
        DeviceMemory d_sids = upload(sids.data(), sids.size() * sizeof(int64_t));
        DeviceMemory d_dids = upload(dids.data(), dids.size() * sizeof(int64_t));
        copy_blocks(sl, d_src.ptr, static_cast<const int64_t*>(d_sids.ptr), dl, d_dst.ptr,
                    static_cast<const int64_t*>(d_dids.ptr), n, nullptr);
        FLOWKV_CUDA_CHECK(cudaDeviceSynchronize());
        reference_copy(sl, src, sids, dl, want, dids);
        EXPECT_EQ(count_wrong(download(d_dst, dl.geometry.pool_bytes()), want), 0u);
      }
    }
  }
}

// Gather into the staging layout, check the staging buffer, scatter into another pool, check it.
TEST_F(LayoutCopy, GatherThenScatterThroughStaging) {
  uint64_t seed = 100;
  for (const Shape& shape : kShapes) {
    SCOPED_TRACE(shape.name);
    std::mt19937_64 rng(seed++);
    const KvLayout pool = layout(LayoutKind::kPagedPerLayer, shape.g, 19);
    const KvLayout other = layout(LayoutKind::kPagedPerLayer, shape.g, 23);
    const int64_t n = 9;
    const KvLayout staging = staging_layout(shape.g, n);
    ASSERT_EQ(staging.geometry.pool_bytes(), n * shape.g.block_bytes());
    const auto sids = random_ids(n, 19, rng);
    const auto dids = random_ids(n, 23, rng);
    std::vector<int64_t> identity(static_cast<size_t>(n));
    std::iota(identity.begin(), identity.end(), 0);
    const auto src = random_bytes(pool.geometry.pool_bytes(), rng);
    auto want_staging = random_bytes(staging.geometry.pool_bytes(), rng);
    auto want_dst = random_bytes(other.geometry.pool_bytes(), rng);
    DeviceMemory d_src = upload(src.data(), src.size());
    DeviceMemory d_staging = upload(want_staging.data(), want_staging.size());
    DeviceMemory d_dst = upload(want_dst.data(), want_dst.size());
    DeviceMemory d_sids = upload(sids.data(), sids.size() * sizeof(int64_t));
    DeviceMemory d_dids = upload(dids.data(), dids.size() * sizeof(int64_t));

    gather_blocks(pool, d_src.ptr, static_cast<const int64_t*>(d_sids.ptr), n, d_staging.ptr, nullptr);
    FLOWKV_CUDA_CHECK(cudaDeviceSynchronize());
    reference_copy(pool, src, sids, staging, want_staging, identity);
    const auto got_staging = download(d_staging, staging.geometry.pool_bytes());
    EXPECT_EQ(count_wrong(got_staging, want_staging), 0u);
    // Per layer, K and V (or the latent) of all n blocks are one contiguous piece: what one call
    // per layer sends.
    const int32_t parts = shape.g.kv_parts;
    const int64_t layer_bytes = parts * n * shape.g.chunk_bytes();
    for (int32_t l = 0; l < shape.g.num_layers; ++l) {
      EXPECT_EQ(staging.chunk_offset(l, 0, 0), l * layer_bytes);
      EXPECT_EQ(staging.chunk_offset(l, parts - 1, n - 1) + shape.g.chunk_bytes(), (l + 1) * layer_bytes);
    }

    scatter_blocks(d_staging.ptr, other, d_dst.ptr, static_cast<const int64_t*>(d_dids.ptr), n, nullptr);
    FLOWKV_CUDA_CHECK(cudaDeviceSynchronize());
    reference_copy(staging, want_staging, identity, other, want_dst, dids);
    EXPECT_EQ(count_wrong(download(d_dst, other.geometry.pool_bytes()), want_dst), 0u);
  }
}

TEST_F(LayoutCopy, ZeroBlocksLaunchesNothing) {
  const KvLayout l = layout(LayoutKind::kPagedPerLayer, kShapes[0].g, 4);
  EXPECT_NO_THROW(copy_blocks(l, nullptr, nullptr, l, nullptr, nullptr, 0, nullptr));
}

// Host-side refusals happen before any device call, so they are checked without a GPU too.
TEST(LayoutCopyArguments, RefusesMismatchedShapesAndUnalignedChunks) {
  const KvLayout a = layout(LayoutKind::kPagedPerLayer, geometry(2, 2, 32, 4), 4);
  const KvLayout b = layout(LayoutKind::kPagedPerLayer, geometry(3, 2, 32, 4), 4);
  try {
    copy_blocks(a, nullptr, nullptr, b, nullptr, nullptr, 1, nullptr);
    FAIL() << "different layer counts must be refused";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::kInvalidInput);
  }
  const KvLayout odd = layout(LayoutKind::kBlockContiguous, geometry(1, 1, 3, 1), 4);  // 6-byte chunk
  try {
    copy_blocks(odd, nullptr, nullptr, odd, nullptr, nullptr, 1, nullptr);
    FAIL() << "a 6-byte chunk must be refused";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::kUnsupported);
  }
}

}  // namespace
}  // namespace flowkv::kernels
