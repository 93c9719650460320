// CpuNodeExecutor: the paged forward against the plain reference (reference_forward.h), bit for
// bit, whatever the layout, the block ids, the chunking, the batching, the pool dtype and the
// threads (the token-equality contract of runtime/executor.h); and that a wrong block, a wrong
// layout or a poisoned pool does show as different tokens, so the equalities can fail.
#include "runtime/cpu/cpu_executor.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "core/base/error.h"
#include "runtime/cpu/reference_forward.h"
#include "runtime/transport.h"
#include "tests/runtime/exec_driver.h"

namespace flowkv::runtime {
namespace {

using core::LayoutKind;
using testing::DrivenRequest;
using testing::make_layout;
using testing::random_prompt;
using testing::run_requests;
using testing::shuffled_blocks;

constexpr int64_t kOutputs = 20;
constexpr int64_t kPoolBlocks = 256;

std::shared_ptr<const ModelWeights> tiny_weights() {
  static const auto w =
      std::make_shared<const ModelWeights>(random_weights(core::find_model("tiny-llama"), 7));
  return w;
}

struct Generated {
  std::vector<int32_t> tokens;
  std::vector<float> logits;  // [tokens][vocab]
};

// The reference's tokens and logits, computed once per (prompt, dtype).
const Generated& reference_run(const std::vector<int32_t>& prompt, int32_t dtype) {
  static std::map<std::pair<std::vector<int32_t>, int32_t>, Generated> cache;
  auto key = std::make_pair(prompt, dtype);
  auto it = cache.find(key);
  if (it == cache.end()) {
    Generated g;
    g.tokens = reference_generate(*tiny_weights(), dtype, prompt, kOutputs, g.logits);
    it = cache.emplace(key, std::move(g)).first;
  }
  return it->second;
}

const std::vector<int32_t>& reference(const std::vector<int32_t>& prompt, int32_t dtype) {
  return reference_run(prompt, dtype).tokens;
}

bool same_bits(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

int32_t vocab() { return tiny_weights()->spec.vocab_size; }

// Requests of the given prompt lengths, blocks cut from one shuffled list (scattered ids).
std::vector<DrivenRequest> make_requests(const std::vector<int64_t>& lengths, int32_t block_size,
                                         uint64_t seed) {
  const int32_t vocab = tiny_weights()->spec.vocab_size;
  const std::vector<int64_t> ids = shuffled_blocks(kPoolBlocks, seed);
  size_t used = 0;
  std::vector<DrivenRequest> out;
  for (size_t i = 0; i < lengths.size(); ++i) {
    DrivenRequest r;
    r.prompt = random_prompt(lengths[i], vocab, 1000 + lengths[i]);
    r.outputs = kOutputs;
    const int64_t blocks = (lengths[i] + kOutputs + block_size - 1) / block_size;
    r.blocks.assign(ids.begin() + static_cast<ptrdiff_t>(used),
                    ids.begin() + static_cast<ptrdiff_t>(used + blocks));
    used += static_cast<size_t>(blocks);
    out.push_back(std::move(r));
  }
  EXPECT_LE(used, static_cast<size_t>(kPoolBlocks));
  return out;
}

class CpuExecutor : public ::testing::TestWithParam<std::tuple<LayoutKind, int32_t>> {
 protected:
  LayoutKind kind() const { return std::get<0>(GetParam()); }
  int32_t dtype() const { return std::get<1>(GetParam()); }
  std::unique_ptr<NodeExecutor> node(int32_t threads = 1, int32_t block_size = 16) {
    CpuDevice device(tiny_weights(), CpuDeviceOptions{threads, 0});
    return device.make_node(
        make_layout(tiny_weights()->spec, kind(), dtype(), block_size, kPoolBlocks));
  }
  // Tokens and logits, bit for bit: a logit is far more sensitive than a greedy token.
  void expect_reference(const std::vector<DrivenRequest>& requests) {
    for (size_t i = 0; i < requests.size(); ++i) {
      const Generated& ref = reference_run(requests[i].prompt, dtype());
      EXPECT_EQ(requests[i].generated, ref.tokens)
          << "request " << i << " (prompt of " << requests[i].prompt.size() << " tokens)";
      EXPECT_TRUE(same_bits(requests[i].logits, ref.logits))
          << "logits of request " << i << " (prompt of " << requests[i].prompt.size()
          << " tokens)";
    }
  }
};

TEST_P(CpuExecutor, EachRequestAloneEqualsTheReference) {
  for (const int64_t length : {1, 7, 16, 17, 100, 300}) {
    auto n = node();
    std::vector<DrivenRequest> one = make_requests({length}, 16, length);
    run_requests(*n, one, vocab());
    expect_reference(one);
  }
}

TEST_P(CpuExecutor, ChunkingThePromptChangesNoToken) {
  const std::vector<std::vector<int64_t>> chunkings = {{1}, {5}, {16}, {37, 3}, {64, 1, 128}};
  for (const auto& chunks : chunkings) {
    auto n = node();
    std::vector<DrivenRequest> rs = make_requests({150, 33}, 16, 11);
    for (DrivenRequest& r : rs) r.chunks = chunks;
    run_requests(*n, rs, vocab());
    expect_reference(rs);
  }
}

// Six requests arriving at different iterations, chunked differently, so that prefill chunks
// and decode steps of several requests share run calls.
TEST_P(CpuExecutor, BatchedWithPrefillAndDecodeMixedEqualsAlone) {
  auto n = node();
  std::vector<DrivenRequest> rs = make_requests({300, 1, 45, 128, 9, 77}, 16, 5);
  const std::vector<std::vector<int64_t>> chunks = {{64}, {}, {16, 7}, {}, {2}, {50}};
  for (size_t i = 0; i < rs.size(); ++i) {
    rs[i].chunks = chunks[i];
    rs[i].arrival = static_cast<int64_t>(3 * i);
  }
  run_requests(*n, rs, vocab());
  expect_reference(rs);
}

TEST_P(CpuExecutor, TwoThreadsAndOddBlockSizeChangeNoToken) {
  auto n = node(/*threads=*/2, /*block_size=*/5);
  std::vector<DrivenRequest> rs = make_requests({200, 31, 3}, 5, 9);
  rs[0].chunks = {48};
  rs[1].arrival = 2;
  run_requests(*n, rs, vocab());
  expect_reference(rs);
}

// The test above can fail: the same request with one block id of its table changed between
// prefill and decode reads another block's (zero) KV and generates other tokens.
TEST_P(CpuExecutor, AWrongBlockIdGivesOtherTokens) {
  auto n = node();
  std::vector<DrivenRequest> rs = make_requests({40}, 16, 21);
  DrivenRequest& r = rs[0];
  r.outputs = 1;
  run_requests(*n, rs, vocab());  // prefill only
  ASSERT_EQ(r.generated.front(), reference(r.prompt, dtype()).front());
  // Decode the rest with block 0 of the table replaced by an id no request uses.
  const std::vector<int64_t> ids = shuffled_blocks(kPoolBlocks, 21);
  r.blocks[0] = ids.back();
  r.outputs = kOutputs;
  run_requests(*n, rs, vocab());
  EXPECT_NE(r.generated, reference(r.prompt, dtype()));
  EXPECT_EQ(r.generated.front(), reference(r.prompt, dtype()).front());
}

// KV written in this layout and read as if it were in the other one gives other tokens: the
// executor really addresses the pool through the layout.
TEST_P(CpuExecutor, KvReadThroughTheOtherLayoutGivesOtherTokens) {
  auto writer = node();
  std::vector<DrivenRequest> rs = make_requests({60}, 16, 31);
  rs[0].outputs = 1;
  run_requests(*writer, rs, vocab());
  const LayoutKind other =
      kind() == LayoutKind::kPagedPerLayer ? LayoutKind::kBlockContiguous : LayoutKind::kPagedPerLayer;
  CpuDevice device(tiny_weights());
  auto reader = device.make_node(make_layout(tiny_weights()->spec, other, dtype(), 16, kPoolBlocks));
  std::memcpy(reader->kv_data(), writer->kv_data(),
              static_cast<size_t>(writer->layout().geometry.pool_bytes()));
  std::vector<DrivenRequest> copy = rs;
  copy[0].outputs = kOutputs;
  run_requests(*reader, copy, vocab());
  EXPECT_NE(copy[0].generated, reference(rs[0].prompt, dtype()));
  // The same bytes read through the right layout continue correctly.
  rs[0].outputs = kOutputs;
  run_requests(*writer, rs, vocab());
  EXPECT_EQ(rs[0].generated, reference(rs[0].prompt, dtype()));
}

TEST_P(CpuExecutor, PoisonedKvGivesOtherTokensAndAReprefillRecovers) {
  auto n = node();
  std::vector<DrivenRequest> rs = make_requests({90}, 16, 41);
  rs[0].outputs = 1;
  run_requests(*n, rs, vocab());
  n->poison();
  DrivenRequest lost = rs[0];
  lost.outputs = kOutputs;
  std::vector<DrivenRequest> after = {lost};
  run_requests(*n, after, vocab());
  EXPECT_NE(after[0].generated, reference(rs[0].prompt, dtype()));
  // Re-prefill from scratch into the poisoned blocks: every position is rewritten before read.
  std::vector<DrivenRequest> again = make_requests({90}, 16, 41);
  run_requests(*n, again, vocab());
  EXPECT_EQ(again[0].generated, reference(rs[0].prompt, dtype()));
}

INSTANTIATE_TEST_SUITE_P(
    LayoutsAndDtypes, CpuExecutor,
    ::testing::Combine(::testing::Values(LayoutKind::kPagedPerLayer, LayoutKind::kBlockContiguous),
                       ::testing::Values(2, 4)),
    [](const auto& info) {
      return std::string(std::get<0>(info.param) == LayoutKind::kPagedPerLayer ? "Paged"
                                                                                 : "BlockContiguous") +
             (std::get<1>(info.param) == 2 ? "Bf16" : "Fp32");
    });

// ---------------------------------------------------------------------- single-layout checks

std::unique_ptr<NodeExecutor> bf16_node(CpuDevice& device, int64_t blocks = kPoolBlocks) {
  return device.make_node(make_layout(device.weights().spec, LayoutKind::kBlockContiguous, 2, 16, blocks));
}

TEST(CpuExecutorPool, Bf16AndFp32PoolsGiveDifferentLogits) {
  // The pool dtype is real: the reference's logits differ between bf16 and fp32 KV.
  const std::vector<int32_t> prompt = random_prompt(50, 512, 3);
  std::vector<float> a, b;
  reference_generate(*tiny_weights(), 2, prompt, 1, a);
  reference_generate(*tiny_weights(), 4, prompt, 1, b);
  EXPECT_NE(a, b);
}

TEST(CpuExecutorLogits, ShapeAndValuesPerSampledItem) {
  CpuDevice device(tiny_weights());
  auto n = bf16_node(device);
  const int32_t vocab = tiny_weights()->spec.vocab_size;
  const std::vector<int32_t> p0 = random_prompt(30, vocab, 1), p1 = random_prompt(20, vocab, 2),
                             p2 = random_prompt(10, vocab, 3);
  const std::vector<int64_t> b0 = {5, 9}, b1 = {100, 3}, b2 = {77};
  // Item 1 is a non-final chunk: not sampled, its next[] entry left alone.
  const std::vector<ExecItem> items = {{core::RequestId{0}, p0, 0, b0, true},
                                       {core::RequestId{1}, std::span(p1).first(12), 0, b1, false},
                                       {core::RequestId{2}, p2, 0, b2, true}};
  std::vector<int32_t> next(3, -7);
  std::vector<float> logits(2 * static_cast<size_t>(vocab));
  n->run(items, next, logits);
  EXPECT_EQ(next[1], -7);
  std::vector<float> ref0, ref2;
  EXPECT_EQ(reference_generate(*tiny_weights(), 2, p0, 1, ref0).front(), next[0]);
  EXPECT_EQ(reference_generate(*tiny_weights(), 2, p2, 1, ref2).front(), next[2]);
  EXPECT_EQ(std::vector<float>(logits.begin(), logits.begin() + vocab), ref0);
  EXPECT_EQ(std::vector<float>(logits.begin() + vocab, logits.end()), ref2);
  // Logits of the wrong size are the caller's bug.
  std::vector<float> wrong(static_cast<size_t>(vocab));
  try {
    n->run(items, next, wrong);
    ADD_FAILURE() << "no error";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::kInternal);
    EXPECT_NE(std::string(e.what()).find("logits hold 512 values, expected 2 sampled items"),
              std::string::npos)
        << e.what();
  }
}

// Greedy ties go to the lowest token id: give a lower id the same LM-head row as the token the
// model picks, and the lower id wins; a higher id with the same row does not.
TEST(CpuExecutorLogits, ArgmaxTiesGoToTheLowestId) {
  const std::vector<int32_t> prompt = random_prompt(12, 512, 8);
  const int32_t picked = reference_generate(*tiny_weights(), 2, prompt, 1).front();
  ASSERT_GT(picked, 0);
  ASSERT_LT(picked, 511);
  const int64_t hidden = tiny_weights()->spec.hidden_size;
  const auto with_copy_at = [&](int32_t target) {
    auto w = std::make_shared<ModelWeights>(*tiny_weights());
    std::copy_n(&w->lm_head[picked * hidden], hidden, &w->lm_head[target * hidden]);
    CpuDevice device(w);
    auto n = bf16_node(device);
    const std::vector<int64_t> blocks = {0};
    const ExecItem item{core::RequestId{0}, prompt, 0, blocks, true};
    std::vector<int32_t> next(1);
    n->run(std::span(&item, 1), next);
    return next[0];
  };
  EXPECT_EQ(with_copy_at(0), 0);
  EXPECT_EQ(with_copy_at(picked - 1), picked - 1);
  EXPECT_EQ(with_copy_at(511), picked);
}

TEST(CpuExecutorItems, RecomputingAPositionGivesTheSameToken) {
  // A decode step run twice (a retried iteration) overwrites its KV with the same values.
  CpuDevice device(tiny_weights());
  auto n = bf16_node(device);
  const std::vector<int32_t> prompt = random_prompt(20, 512, 4);
  const std::vector<int64_t> blocks = {17, 2};
  std::vector<int32_t> next(1);
  const ExecItem prefill{core::RequestId{0}, prompt, 0, blocks, true};
  n->run(std::span(&prefill, 1), next);
  const int32_t first = next[0];
  const ExecItem step{core::RequestId{0}, std::span(&first, 1), 20, blocks, true};
  n->run(std::span(&step, 1), next);
  const int32_t second = next[0];
  n->run(std::span(&step, 1), next);
  EXPECT_EQ(next[0], second);
  EXPECT_EQ(second, reference_generate(*tiny_weights(), 2, prompt, 2)[1]);
}

TEST(CpuExecutorItems, MalformedItemsAreInternalErrors) {
  CpuDevice device(tiny_weights());
  auto n = bf16_node(device, 8);
  const std::vector<int32_t> tokens = {1, 2, 3};
  const std::vector<int32_t> bad_token = {1, 512};
  const std::vector<int64_t> outside = {8};
  const std::vector<int64_t> ok = {0};
  const std::vector<int64_t> none;
  std::vector<int32_t> next(1);
  const auto error_of = [&](const ExecItem& item) -> std::string {
    try {
      n->run(std::span(&item, 1), next);
    } catch (const core::Error& e) {
      EXPECT_EQ(e.kind(), core::ErrorKind::kInternal) << e.what();
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(error_of({core::RequestId{4}, tokens, 0, outside, true})
                .find("item 0 (request 4): block id 8 outside the pool of 8 blocks"),
            std::string::npos);
  EXPECT_NE(error_of({core::RequestId{4}, tokens, 15, ok, true}).find("covers 18 positions with 1 blocks"),
            std::string::npos);
  EXPECT_NE(error_of({core::RequestId{4}, tokens, 0, none, true}).find("with 0 blocks"),
            std::string::npos);
  EXPECT_NE(error_of({core::RequestId{4}, bad_token, 0, ok, true})
                .find("token 512 outside the vocabulary of 512"),
            std::string::npos);
}

// ----------------------------------------------------------------------------------- device

std::string input_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::kInvalidInput) << e.what();
    return e.what();
  }
  return "no error";
}

TEST(CpuDevice, NameFreeBytesAndPoolAccounting) {
  const int64_t budget = int64_t{64} << 20;
  CpuDevice device(tiny_weights(), CpuDeviceOptions{2, budget});
  EXPECT_EQ(device.name(), "cpu (2 threads)");
  const ModelWeights& w = *tiny_weights();
  const int64_t weights = static_cast<int64_t>(
      4 * (w.embed.size() + w.lm_head.size() + w.final_norm.size() +
           w.layers.size() * (w.layers[0].attn_norm.size() + w.layers[0].qkv.size() +
                              w.layers[0].o.size() + w.layers[0].mlp_norm.size() +
                              w.layers[0].gate_up.size() + w.layers[0].down.size())));
  EXPECT_EQ(device.weight_bytes(), weights);
  EXPECT_EQ(device.free_bytes(), budget - weights);
  {
    auto n = bf16_node(device, 100);
    EXPECT_EQ(device.free_bytes(), budget - weights - n->layout().geometry.pool_bytes());
    // The pool starts zeroed.
    const std::byte* p = n->kv_data();
    EXPECT_TRUE(std::all_of(p, p + n->layout().geometry.pool_bytes(),
                            [](std::byte b) { return b == std::byte{0}; }));
  }
  EXPECT_EQ(device.free_bytes(), budget - weights);
  EXPECT_EQ(CpuDevice(tiny_weights()).name(), "cpu (1 thread)");
  EXPECT_GT(CpuDevice(tiny_weights()).free_bytes(), int64_t{100} << 20);  // physical RAM
}

TEST(CpuDevice, RefusesWhatItCannotRun) {
  CpuDevice device(tiny_weights(), CpuDeviceOptions{1, int64_t{8} << 20});
  const core::ModelSpec& s = tiny_weights()->spec;
  const auto error_for = [&](core::KvLayout layout) {
    return input_error_of([&] { device.make_node(layout); });
  };
  core::KvLayout big = make_layout(s, LayoutKind::kPagedPerLayer, 2, 16, 100000);
  EXPECT_NE(error_for(big).find("a KV pool of 100000 blocks x 8192 bytes = 819200000 bytes does "
                                "not fit"),
            std::string::npos)
      << error_for(big);
  core::KvLayout layers = make_layout(s, LayoutKind::kPagedPerLayer, 2, 16, 4);
  layers.geometry.num_layers = 3;
  EXPECT_NE(error_for(layers).find("num_layers is 3, model tiny-llama has 2"), std::string::npos);
  core::KvLayout fp8 = make_layout(s, LayoutKind::kPagedPerLayer, 1, 16, 4);
  EXPECT_NE(error_for(fp8).find("a KV element of 1 bytes"), std::string::npos);
  EXPECT_NE(input_error_of([&] { CpuDevice(tiny_weights(), CpuDeviceOptions{0, 0}); })
                .find("threads per node must be at least 1, got 0"),
            std::string::npos);
  EXPECT_NE(input_error_of([&] { CpuDevice(tiny_weights(), CpuDeviceOptions{1, 1000}); })
                .find("over the host memory budget of 1000 bytes"),
            std::string::npos);
}

TEST(CpuDevice, TransportCopiesBetweenNodes) {
  CpuDevice device(tiny_weights());
  auto a = bf16_node(device, 4);
  auto b = bf16_node(device, 4);
  a->poison();
  auto t = device.make_transport();
  const int64_t bytes = a->layout().geometry.pool_bytes();
  const TransferId id = t->submit({a->kv_data(), b->kv_data(), {{0, 0, bytes}}, -1});
  EXPECT_EQ(t->wait(id, core::Duration::seconds(1)), TransferState::kCompleted);
  EXPECT_EQ(std::memcmp(a->kv_data(), b->kv_data(), static_cast<size_t>(bytes)), 0);
}

}  // namespace
}  // namespace flowkv::runtime
