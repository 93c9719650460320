// The CUDA executor on a tiny model (head_dim 32, GQA, llama3 RoPE): logits against a float32
// host reference within a bf16 tolerance, and token equality on the GPU: the same request alone,
// batched with others, chunked, computed through decode steps, in either layout or other blocks,
// gives bit-identical logits. Also poison(), uploaded weights, and what make_node / run refuse.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <vector>

#include "core/base/error.h"
#include "runtime/cuda/cuda_executor.h"
#include "runtime/cuda/cuda_handles.h"
#include "tests/runtime/cuda/tiny_model.h"

namespace flowkv::runtime {
namespace {

constexpr uint64_t kSeed = 7;
// Logit tolerance against the host reference: the logits spread with std ~2; a wrong position,
// head or layout shows as errors of order 1.
constexpr float kLogitTolerance = 0.06f;

core::KvLayout tiny_layout(core::LayoutKind kind, int64_t blocks = 64) {
  const core::ModelSpec s = test::tiny_spec();
  core::KvLayout l;
  l.kind = kind;
  l.geometry = s.kv_geometry(16, blocks);
  l.geometry.dtype_bytes = 2;
  return l;
}

std::vector<int32_t> prompt(int64_t n, uint64_t seed, int32_t vocab) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> p(static_cast<size_t>(n));
  for (auto& t : p) t = static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab));
  return p;
}

// A request on a node: its tokens so far and its blocks.
struct Request {
  std::vector<int32_t> tokens;
  std::vector<int64_t> blocks;
};

// Runs one iteration; returns each sampled item's logits (in item order).
std::vector<std::vector<float>> step(NodeExecutor& node, const std::vector<ExecItem>& items,
                                     std::vector<int32_t>& next, int32_t vocab) {
  next.assign(items.size(), -1);
  const size_t sampled = size_t(std::count_if(items.begin(), items.end(), [](const ExecItem& i) { return i.sample; }));
  std::vector<float> flat(sampled * size_t(vocab));
  node.run(items, next, flat);
  std::vector<std::vector<float>> out;
  for (size_t i = 0; i < sampled; ++i) out.emplace_back(flat.begin() + i * vocab, flat.begin() + (i + 1) * vocab);
  return out;
}

ExecItem item(const Request& r, int64_t start, int64_t count, bool sample) {
  ExecItem e;
  e.tokens = std::span<const int32_t>(r.tokens).subspan(size_t(start), size_t(count));
  e.start = start;
  e.blocks = r.blocks;
  e.sample = sample;
  return e;
}

std::vector<int64_t> block_range(int64_t first, int64_t n) {
  std::vector<int64_t> b(static_cast<size_t>(n));
  std::iota(b.begin(), b.end(), first);
  return b;
}

// The greedy token of the GPU must be the reference's, except where the reference's top two
// logits are within the tolerance (then either of the two is accepted).
void expect_token_consistent(int32_t token, const std::vector<float>& ref) {
  std::vector<int32_t> order(ref.size());
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + 2, order.end(),
                    [&](int32_t a, int32_t b) { return ref[size_t(a)] > ref[size_t(b)]; });
  if (ref[size_t(order[0])] - ref[size_t(order[1])] < 2 * kLogitTolerance) {
    EXPECT_TRUE(token == order[0] || token == order[1]) << "near tie, got " << token;
  } else {
    EXPECT_EQ(token, order[0]);
  }
}

// The logits after the last token of `r`, prefilled on a fresh node of `device`.
std::vector<float> device_logits(CudaDevice& device, const Request& r) {
  auto node = device.make_node(tiny_layout(core::LayoutKind::kBlockContiguous));
  std::vector<int32_t> next;
  return step(*node, {item(r, 0, int64_t(r.tokens.size()), true)}, next, device.spec().vocab_size)[0];
}

class CudaExecutor : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device: the CUDA executor cannot run";
  }
};

// Logits after a prefill of 45 tokens and 8 greedy decode steps, against the host reference, for
// both layouts and for a model with a q/k/v bias.
TEST_F(CudaExecutor, LogitsMatchHostReference) {
  for (bool bias : {false, true}) {
    const core::ModelSpec spec = test::tiny_spec(bias);
    const ModelWeights host = test::host_weights(spec, kSeed);
    CudaDevice device(0, spec, kSeed);
    for (auto kind : {core::LayoutKind::kPagedPerLayer, core::LayoutKind::kBlockContiguous}) {
      SCOPED_TRACE(testing::Message() << spec.name << " " << core::to_string(kind));
      auto node = device.make_node(tiny_layout(kind));
      Request r{prompt(45, 1, spec.vocab_size), {5, 3, 9, 0, 7, 11}};
      std::vector<int32_t> next;
      auto logits = step(*node, {item(r, 0, 45, true)}, next, spec.vocab_size);
      for (int s = 0; s < 8; ++s) {
        const auto ref = test::reference_logits(host, r.tokens);
        float worst = 0;
        for (size_t v = 0; v < ref.size(); ++v) worst = std::max(worst, std::abs(logits[0][v] - ref[v]));
        EXPECT_LT(worst, kLogitTolerance) << "position " << r.tokens.size() - 1;
        expect_token_consistent(next[0], ref);
        r.tokens.push_back(next[0]);
        logits = step(*node, {item(r, int64_t(r.tokens.size()) - 1, 1, true)}, next, spec.vocab_size);
      }
    }
  }
}

// Regression guard for token equality (runtime/executor.h): the logits of one request do not
// depend on the batch, the chunking, the attention path, the layout or the block ids.
TEST_F(CudaExecutor, TokenEqualityAcrossBatchingChunkingPathsAndLayouts) {
  const core::ModelSpec spec = test::tiny_spec();
  CudaDevice device(0, spec, kSeed);
  const int32_t vocab = spec.vocab_size;
  const int64_t n_prompt = 300;  // crosses a 256-key split
  const int decode_steps = 5;

  // Reference run: the whole prompt in one prefill, then decode steps, alone.
  std::vector<std::vector<float>> want;
  std::vector<int32_t> generated;
  {
    auto node = device.make_node(tiny_layout(core::LayoutKind::kBlockContiguous));
    Request r{prompt(n_prompt, 2, vocab), block_range(0, 24)};
    std::vector<int32_t> next;
    want.push_back(step(*node, {item(r, 0, n_prompt, true)}, next, vocab)[0]);
    for (int s = 0; s < decode_steps; ++s) {
      r.tokens.push_back(next[0]);
      generated.push_back(next[0]);
      want.push_back(step(*node, {item(r, int64_t(r.tokens.size()) - 1, 1, true)}, next, vocab)[0]);
    }
  }
  auto full_tokens = prompt(n_prompt, 2, vocab);
  full_tokens.insert(full_tokens.end(), generated.begin(), generated.end());

  auto expect_same = [&](const std::vector<float>& got, size_t index, const char* how) {
    ASSERT_EQ(got.size(), want[index].size());
    EXPECT_EQ(std::memcmp(got.data(), want[index].data(), got.size() * sizeof(float)), 0)
        << how << ": logits after position " << n_prompt - 1 + int64_t(index) << " differ";
  };

  for (auto kind : {core::LayoutKind::kPagedPerLayer, core::LayoutKind::kBlockContiguous}) {
    SCOPED_TRACE(core::to_string(kind));
    auto node = device.make_node(tiny_layout(kind, 128));
    // The request (other blocks, in reverse), chunked 100 + 77 + 123, batched with two others.
    Request r{full_tokens, {}};
    for (int64_t b = 60; b > 60 - 24; --b) r.blocks.push_back(b);
    Request other{prompt(40, 3, vocab), block_range(70, 4)};
    Request third{prompt(260, 4, vocab), block_range(80, 20)};
    std::vector<int32_t> next;
    step(*node, {item(other, 0, 40, true), item(r, 0, 100, false)}, next, vocab);
    step(*node, {item(third, 0, 130, false), item(r, 100, 77, false)}, next, vocab);
    auto got = step(*node, {item(r, 177, 123, true), item(third, 130, 130, true), item(other, 39, 1, true)}, next, vocab);
    expect_same(got[0], 0, "chunked and batched prefill");
    for (int s = 0; s < decode_steps; ++s) {
      const int64_t pos = n_prompt + s;
      got = step(*node, {item(third, 259, 1, true), item(r, pos, 1, true)}, next, vocab);
      expect_same(got[1], size_t(s) + 1, "batched decode");
      if (s + 1 < decode_steps) {
        EXPECT_EQ(next[1], generated[size_t(s) + 1]);
      }
    }

    // The prompt through decode steps only (one token per iteration), then the generated ones
    // as one prefill chunk: the attention's other path for every position.
    auto node2 = device.make_node(tiny_layout(kind, 64));
    Request r2{full_tokens, block_range(3, 24)};
    for (int64_t p = 0; p < n_prompt - 1; ++p) step(*node2, {item(r2, p, 1, false)}, next, vocab);
    got = step(*node2, {item(r2, n_prompt - 1, 1, true)}, next, vocab);
    expect_same(got[0], 0, "token-by-token prefill");
    got = step(*node2, {item(r2, n_prompt, decode_steps, true)}, next, vocab);
    expect_same(got[0], size_t(decode_steps), "generated tokens as one chunk");
  }
}

TEST_F(CudaExecutor, PoisonedPoolChangesTokensUntilRewritten) {
  const core::ModelSpec spec = test::tiny_spec();
  CudaDevice device(0, spec, kSeed);
  auto node = device.make_node(tiny_layout(core::LayoutKind::kBlockContiguous));
  Request r{prompt(60, 5, spec.vocab_size), block_range(10, 5)};
  std::vector<int32_t> next;
  step(*node, {item(r, 0, 59, false)}, next, spec.vocab_size);
  const auto clean = step(*node, {item(r, 59, 1, true)}, next, spec.vocab_size)[0];
  node->poison();
  const auto poisoned = step(*node, {item(r, 59, 1, true)}, next, spec.vocab_size)[0];
  EXPECT_NE(std::memcmp(clean.data(), poisoned.data(), clean.size() * sizeof(float)), 0);
  step(*node, {item(r, 0, 59, false)}, next, spec.vocab_size);  // re-prefill after the "crash"
  const auto again = step(*node, {item(r, 59, 1, true)}, next, spec.vocab_size)[0];
  EXPECT_EQ(std::memcmp(clean.data(), again.data(), clean.size() * sizeof(float)), 0);
  auto* info = dynamic_cast<CudaNodeExecutorInfo*>(node.get());
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->gemm_fallbacks(), 0);
}

// Weights uploaded from host memory equal the ones filled on the device from the seed.
TEST_F(CudaExecutor, UploadedWeightsGiveTheSameLogits) {
  const core::ModelSpec spec = test::tiny_spec(true);
  CudaDevice filled(0, spec, kSeed);
  CudaDevice uploaded(0, test::host_weights(spec, kSeed));
  EXPECT_EQ(filled.weight_bytes(), uploaded.weight_bytes());
  const Request r{prompt(33, 6, spec.vocab_size), block_range(0, 3)};
  auto a = device_logits(filled, r);
  auto b = device_logits(uploaded, r);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
}

TEST_F(CudaExecutor, RefusesWhatItCannotRun) {
  const core::ModelSpec spec = test::tiny_spec();
  CudaDevice device(0, spec, kSeed);
  EXPECT_GT(device.free_bytes(), 0);
  EXPECT_NE(device.name().find("cuda:0"), std::string::npos);
  try {
    device.make_node(tiny_layout(core::LayoutKind::kBlockContiguous, int64_t{1} << 40));
    FAIL() << "a pool larger than the device must be refused";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("does not fit"), std::string::npos) << e.what();
  }
  core::KvLayout wrong = tiny_layout(core::LayoutKind::kBlockContiguous);
  wrong.geometry.head_dim = 64;
  EXPECT_THROW(device.make_node(wrong), core::Error);
  auto node = device.make_node(tiny_layout(core::LayoutKind::kBlockContiguous, 8));
  std::vector<int32_t> next(1);
  const std::vector<int32_t> bad_token = {spec.vocab_size};
  const std::vector<int64_t> blocks = {0};
  ExecItem e;
  e.tokens = bad_token;
  e.blocks = blocks;
  EXPECT_THROW(node->run({&e, 1}, next), core::Error);
  const std::vector<int32_t> good_token = {1};
  const std::vector<int64_t> bad_blocks = {8};
  e.tokens = good_token;
  e.blocks = bad_blocks;
  EXPECT_THROW(node->run({&e, 1}, next), core::Error);
  // The executor stays usable after refused input.
  e.blocks = blocks;
  EXPECT_NO_THROW(node->run({&e, 1}, next));
  core::ModelSpec odd = spec;
  odd.head_dim = 48;
  EXPECT_THROW(CudaDevice(0, odd, kSeed), core::Error);
}

}  // namespace
}  // namespace flowkv::runtime
