// Paged causal GQA attention against a double-precision CPU reference on random data, in both
// pool layouts and head dims 32/64/128: prefill from position 0, chunked prefill after cached
// context, decode steps with long contexts (several splits), and mixed batches.
//
// Regression guard for the executor's token equality: a query's output is bit for bit the same
// whether it is computed by a whole prefill, a later chunk, or a decode step, in any batch.
// Unwritten pool bytes hold NaN: reading one poisons the output.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "core/base/error.h"
#include "core/kv/kv_layout.h"
#include "kernels/attention.h"
#include "tests/kernels/device_test_util.h"

namespace flowkv::kernels {
namespace {

using test::DeviceArray;
using test::from_bf16;

constexpr uint16_t kNanBf16 = 0x7FC0;

// One request's KV in a pool: positions [0, length) of layer `kLayer` hold random K and V,
// everything else is NaN; its blocks are a random permutation of the pool's.
struct TestPool {
  core::KvLayout layout;
  std::vector<uint16_t> data;
  std::vector<int64_t> blocks;
  int32_t length = 0;

  // The same values, dense: [2][length][kv_heads][head_dim], what the reference reads.
  std::vector<float> dense;

  float at(int32_t kv, int32_t pos, int32_t kv_head, int32_t dim) const {
    const core::KvGeometry& g = layout.geometry;
    return dense[size_t(((int64_t(kv) * length + pos) * g.num_kv_heads + kv_head) * g.head_dim + dim)];
  }
  static constexpr int32_t kLayer = 1;
};

TestPool make_pool(core::LayoutKind kind, int32_t kv_heads, int32_t head_dim, int32_t length,
                   std::mt19937_64& rng) {
  TestPool p;
  p.length = length;
  p.layout.kind = kind;
  core::KvGeometry& g = p.layout.geometry;
  g.num_layers = 2;
  g.num_kv_heads = kv_heads;
  g.head_dim = head_dim;
  g.block_size = 16;
  g.dtype_bytes = 2;
  const int64_t used = g.blocks_for_tokens(length);
  g.num_blocks = used + 3;
  p.data.assign(size_t(g.pool_bytes() / 2), kNanBf16);
  std::vector<int64_t> ids(static_cast<size_t>(g.num_blocks));
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), rng);
  p.blocks.assign(ids.begin(), ids.begin() + used);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const int64_t token_elems = int64_t(kv_heads) * head_dim;
  p.dense.resize(size_t(2 * length * token_elems));
  for (int32_t pos = 0; pos < length; ++pos) {
    for (int32_t kv = 0; kv < 2; ++kv) {
      const int64_t chunk = p.layout.chunk_offset(TestPool::kLayer, kv, p.blocks[size_t(pos / 16)]) / 2;
      for (int64_t e = 0; e < token_elems; ++e) {
        const uint16_t v = test::to_bf16(u(rng));
        p.data[size_t(chunk + int64_t(pos % 16) * token_elems + e)] = v;
        p.dense[size_t((int64_t(kv) * length + pos) * token_elems + e)] = from_bf16(v);
      }
    }
  }
  return p;
}

struct Problem {
  int32_t heads, kv_heads, head_dim;
  int64_t q_stride() const { return int64_t(heads + 2 * kv_heads) * head_dim; }
};

// Output of q head `head` for the query in q row `row` at position `pos`.
std::vector<double> reference(const TestPool& pool, const std::vector<uint16_t>& q,
                              const Problem& pr, int64_t row, int32_t head, int32_t pos) {
  const int32_t d = pr.head_dim;
  const int32_t kvh = head / (pr.heads / pr.kv_heads);
  std::vector<double> scores(size_t(pos) + 1);
  double mx = -1e300;
  for (int32_t k = 0; k <= pos; ++k) {
    double s = 0;
    for (int32_t i = 0; i < d; ++i) s += double(from_bf16(q[size_t(row * pr.q_stride() + int64_t(head) * d + i)])) * pool.at(0, k, kvh, i);
    scores[size_t(k)] = s / std::sqrt(double(d));
    mx = std::max(mx, scores[size_t(k)]);
  }
  double sum = 0;
  for (auto& s : scores) sum += (s = std::exp(s - mx));
  std::vector<double> out(size_t(d), 0.0);
  for (int32_t k = 0; k <= pos; ++k) {
    for (int32_t i = 0; i < d; ++i) out[size_t(i)] += scores[size_t(k)] / sum * pool.at(1, k, kvh, i);
  }
  return out;
}

// Runs attention over `items` (all of the pool's one request) and returns the output rows
// [rows][heads * head_dim] (rows not written by any item stay 0).
std::vector<uint16_t> run(const TestPool& pool, const DeviceArray<uint16_t>& d_pool,
                          const DeviceArray<uint16_t>& d_q, const Problem& pr,
                          const std::vector<AttentionItem>& items, int64_t rows) {
  const AttentionSchedule s = schedule_attention(items, pr.heads, pr.kv_heads);
  DeviceArray<int64_t> d_blocks(pool.blocks);
  DeviceArray<AttentionItem> d_items(items);
  DeviceArray<AttentionWork> d_prefill(s.prefill);
  DeviceArray<AttentionWork> d_decode(s.decode);
  DeviceArray<CombineWork> d_combine(s.combine);
  DeviceArray<float> d_partial(size_t(std::max(s.num_slots, 1)) * pr.heads * pr.head_dim);
  DeviceArray<float2> d_ml(size_t(std::max(s.num_slots, 1)) * pr.heads);
  DeviceArray<uint16_t> d_out(std::vector<uint16_t>(size_t(rows) * pr.heads * pr.head_dim, 0));
  AttentionArgs a;
  a.q = reinterpret_cast<const __nv_bfloat16*>(d_q.get());
  a.q_stride = pr.q_stride();
  a.out = reinterpret_cast<__nv_bfloat16*>(d_out.get());
  a.pool = reinterpret_cast<const std::byte*>(d_pool.get());
  a.layout = pool.layout;
  a.layer = TestPool::kLayer;
  a.num_heads = pr.heads;
  a.block_ids = d_blocks.get();
  a.items = d_items.get();
  a.prefill = d_prefill.get();
  a.num_prefill = int32_t(s.prefill.size());
  a.decode = d_decode.get();
  a.num_decode = int32_t(s.decode.size());
  a.combine = d_combine.get();
  a.num_combine = int32_t(s.combine.size());
  a.partial_out = d_partial.get();
  a.partial_ml = d_ml.get();
  attention(a, nullptr);
  FLOWKV_CUDA_CHECK(cudaDeviceSynchronize());
  return d_out.download();
}

void expect_matches_reference(const TestPool& pool, const std::vector<uint16_t>& q,
                              const Problem& pr, const std::vector<AttentionItem>& items,
                              const std::vector<uint16_t>& out) {
  const int64_t width = int64_t(pr.heads) * pr.head_dim;
  double worst = 0;
  for (const AttentionItem& item : items) {
    for (int32_t j = 0; j < item.num_tokens; ++j) {
      const int64_t row = item.token_offset + j;
      for (int32_t h = 0; h < pr.heads; ++h) {
        const auto want = reference(pool, q, pr, row, h, item.context + j);
        for (int32_t i = 0; i < pr.head_dim; ++i) {
          const double got = from_bf16(out[size_t(row * width + int64_t(h) * pr.head_dim + i)]);
          ASSERT_TRUE(std::isfinite(got)) << "row " << row << " head " << h << " (NaN: a pool byte outside the request was read)";
          worst = std::max(worst, std::abs(got - want[size_t(i)]));
          ASSERT_NEAR(got, want[size_t(i)], 1.5e-2 + 1e-2 * std::abs(want[size_t(i)]))
              << "row " << row << " pos " << item.context + j << " head " << h << " dim " << i;
        }
      }
    }
  }
  ::testing::Test::RecordProperty("max_abs_error", std::to_string(worst));
}

struct Config {
  core::LayoutKind kind;
  Problem pr;
};

std::vector<Config> configs() {
  std::vector<Config> out;
  for (auto kind : {core::LayoutKind::kPagedPerLayer, core::LayoutKind::kBlockContiguous}) {
    out.push_back({kind, {8, 2, 32}});    // group 4
    out.push_back({kind, {4, 4, 64}});    // multi-head (group 1)
    out.push_back({kind, {32, 8, 128}});  // Llama-3.1-8B's heads
  }
  out.push_back({core::LayoutKind::kBlockContiguous, {6, 2, 128}});  // group 3: rows not a multiple of 4
  return out;
}

class Attention : public ::testing::Test {
 protected:
  void SetUp() override { FLOWKV_SKIP_WITHOUT_GPU("the attention kernels"); }
};

TEST_F(Attention, PrefillChunkedAndDecodeMatchReference) {
  std::mt19937_64 rng(21);
  for (const Config& c : configs()) {
    SCOPED_TRACE(testing::Message() << core::to_string(c.kind) << " heads " << c.pr.heads << "/"
                                    << c.pr.kv_heads << " dim " << c.pr.head_dim);
    const int32_t length = 700;  // three splits
    const TestPool pool = make_pool(c.kind, c.pr.kv_heads, c.pr.head_dim, length, rng);
    const auto q = test::random_bf16(size_t(length) * c.pr.q_stride(), rng, 4.0f);
    DeviceArray<uint16_t> d_pool(pool.data);
    DeviceArray<uint16_t> d_q(q);
    // A mixed batch: a prefill from 0, a chunk after 300 cached positions that crosses a split,
    // decode steps at the first position, a split boundary and the last position.
    const std::vector<AttentionItem> items = {
        {0, 77, 0, 0}, {300, 213, 300, 0}, {600, 1, 600, 0}, {0 + 90, 1, 90, 0},
        {256, 1, 256, 0}, {699, 1, 699, 0}, {513, 1, 513, 0}};
    const auto out = run(pool, d_pool, d_q, c.pr, items, length);
    expect_matches_reference(pool, q, c.pr, items, out);
  }
}

TEST_F(Attention, LongDecodeContextsOverManySplits) {
  std::mt19937_64 rng(22);
  const Problem pr{32, 8, 128};
  for (auto kind : {core::LayoutKind::kPagedPerLayer, core::LayoutKind::kBlockContiguous}) {
    SCOPED_TRACE(core::to_string(kind));
    const int32_t length = 5000;  // 20 splits
    const TestPool pool = make_pool(kind, pr.kv_heads, pr.head_dim, length, rng);
    const auto q = test::random_bf16(size_t(length) * pr.q_stride(), rng, 4.0f);
    DeviceArray<uint16_t> d_pool(pool.data);
    DeviceArray<uint16_t> d_q(q);
    const std::vector<AttentionItem> items = {{4999, 1, 4999, 0}, {3000, 1, 3000, 0}, {1023, 1, 1023, 0}};
    expect_matches_reference(pool, q, pr, items, run(pool, d_pool, d_q, pr, items, length));
  }
}

// The invariant itself: every query row of a whole prefill equals, bit for bit, the same row
// computed by a chunked prefill (two chunk sizes) and by a decode step.
TEST_F(Attention, PrefillChunkedAndDecodeAreBitwiseEqual) {
  std::mt19937_64 rng(23);
  for (const Config& c : configs()) {
    SCOPED_TRACE(testing::Message() << core::to_string(c.kind) << " heads " << c.pr.heads << "/"
                                    << c.pr.kv_heads << " dim " << c.pr.head_dim);
    const int32_t length = 600;
    const TestPool pool = make_pool(c.kind, c.pr.kv_heads, c.pr.head_dim, length, rng);
    const auto q = test::random_bf16(size_t(length) * c.pr.q_stride(), rng, 4.0f);
    DeviceArray<uint16_t> d_pool(pool.data);
    DeviceArray<uint16_t> d_q(q);
    const auto whole = run(pool, d_pool, d_q, c.pr, {{0, length, 0, 0}}, length);

    std::vector<AttentionItem> chunks_a, chunks_b, decodes;
    for (int32_t p = 0; p < length; p += 37) chunks_a.push_back({p, std::min(37, length - p), p, 0});
    for (int32_t p = 0; p < length; p += 256) chunks_b.push_back({p, std::min(256, length - p), p, 0});
    for (int32_t p = 0; p < length; ++p) decodes.push_back({p, 1, p, 0});
    const auto a = run(pool, d_pool, d_q, c.pr, chunks_a, length);
    const auto b = run(pool, d_pool, d_q, c.pr, chunks_b, length);
    const auto d = run(pool, d_pool, d_q, c.pr, decodes, length);
    const size_t width = size_t(c.pr.heads) * c.pr.head_dim;
    for (size_t i = 0; i < whole.size(); ++i) {
      ASSERT_EQ(whole[i], a[i]) << "chunks of 37, position " << i / width;
      ASSERT_EQ(whole[i], b[i]) << "chunks of 256, position " << i / width;
      ASSERT_EQ(whole[i], d[i]) << "decode, position " << i / width;
    }
  }
}

TEST(AttentionSchedule, DecodeSplitsAndPrefillBlocks) {
  const std::vector<AttentionItem> items = {{0, 100, 0, 0}, {100, 1, 0, 0}, {101, 1, 255, 0},
                                            {102, 1, 256, 0}, {103, 1, 1000, 0}};
  const AttentionSchedule s = schedule_attention(items, 32, 8);
  // 100 tokens x group 4 = 400 rows = 7 blocks of 64.
  EXPECT_EQ(s.prefill.size(), 7u);
  ASSERT_EQ(s.combine.size(), 4u);
  EXPECT_EQ(s.combine[0].num_splits, 1);  // context 0: keys 0..0
  EXPECT_EQ(s.combine[1].num_splits, 1);  // keys 0..255
  EXPECT_EQ(s.combine[2].num_splits, 2);  // keys 0..256
  EXPECT_EQ(s.combine[3].num_splits, 4);  // keys 0..1000
  EXPECT_EQ(s.num_slots, 8);
  EXPECT_EQ(s.decode.size(), 8u);
  // A group of more than 16 q heads per kv head takes the prefill path even for one token.
  const AttentionSchedule wide = schedule_attention(items, 64, 2);
  EXPECT_TRUE(wide.decode.empty());
  EXPECT_THROW(schedule_attention(items, 30, 8), core::Error);
}

}  // namespace
}  // namespace flowkv::kernels
