// The token-equality proof of the live backend on a GPU (skipped without one). The CUDA executor
// is batch-invariant on one device (runtime/cuda/cuda_executor.h), so every way of serving the
// same trace must give the same tokens bit for bit: colocated, disaggregated in each layout x
// transfer mode (KV moved by DeviceCopyTransport), preempted, with prefix-cache hits. Against
// the CPU executor the GPU agrees within bf16 rounding only, so a request may diverge from the
// CPU's tokens, but only where the CPU's top two logits are a near-tie (within 0.1): that is how
// greedy near-ties are handled.
#include <gtest/gtest.h>

#include <algorithm>

#include "runtime/cpu/reference_forward.h"
#include "runtime/cuda/cuda_executor.h"
#include "runtime/cuda/cuda_handles.h"
#include "tests/runtime/live_fixtures.h"

namespace flowkv::runtime {
namespace {

using namespace live_test;

class LiveCudaProof : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device: the GPU live proof cannot run";
  }
  Outcome run(json j, const traces::Trace& trace = make_trace()) {
    static CudaDevice gpu(0, core::find_model("tiny-llama"), kSeed);
    return run_on(gpu, std::move(j), {}, false, trace);
  }
};

void expect_same(const Outcome& a, const Outcome& b, const std::string& what) {
  ASSERT_EQ(a.outputs.size(), b.outputs.size());
  EXPECT_EQ(b.metrics.completed, static_cast<int64_t>(b.outputs.size())) << what;
  for (size_t i = 0; i < a.outputs.size(); ++i) EXPECT_EQ(a.outputs[i], b.outputs[i]) << what << ": request " << i;
}

TEST_F(LiveCudaProof, EveryWayOfServingGivesTheSameTokens) {
  json colocated = base_scenario();
  colocated["cluster"]["nodes"] = json::parse(R"([{"gpu": "H100-SXM", "count": 1, "role": "colocated"}])");
  const Outcome base = run(colocated);
  for (const char* layout : {"paged", "contiguous"}) {
    for (const char* mode : {"per-block", "per-layer", "merged"}) {
      json j = base_scenario();
      j["kv"]["layout"] = layout;
      j["kv"]["transfer"] = mode;
      expect_same(base, run(j), std::string(layout) + "/" + mode);
    }
  }
  json cached = colocated;
  cached["kv"]["prefix_cache"] = true;
  const Outcome c = run(cached);
  EXPECT_GT(c.metrics.prefix_hit_tokens, 0);
  expect_same(base, c, "prefix cache");
}

TEST_F(LiveCudaProof, PreemptionsRecomputeTheSameTokens) {
  json j = base_scenario();
  j["cluster"]["nodes"] = json::parse(R"([{"gpu": "H100-SXM", "count": 1, "role": "colocated"}])");
  json roomy = j;
  roomy["kv"]["num_blocks"] = 512;
  j["kv"]["num_blocks"] = 24;
  const traces::Trace trace = crowded_trace();
  const Outcome tight = run(j, trace);
  EXPECT_GT(tight.metrics.preemptions, 0);
  expect_same(run(roomy, trace), tight, "preempted");
}

TEST_F(LiveCudaProof, DivergesFromTheCpuOnlyAtNearTies) {
  json j = base_scenario();
  j["cluster"]["nodes"] = json::parse(R"([{"gpu": "H100-SXM", "count": 1, "role": "colocated"}])");
  const Outcome gpu = run(j);
  const core::ModelSpec model = core::find_model("tiny-llama");
  const ModelWeights w = random_weights(model, kSeed);
  int same = 0;
  const traces::Trace trace = make_trace();
  for (size_t i = 0; i < trace.requests.size(); ++i) {
    const core::Request& r = trace.requests[i];
    std::vector<float> logits;
    const std::vector<int32_t> cpu =
        reference_generate(w, model.dtype_bytes, prompt_tokens(r, model.vocab_size, kSeed), r.output_tokens, logits);
    const std::vector<int32_t>& g = gpu.outputs[i];
    ASSERT_EQ(g.size(), cpu.size());
    size_t k = 0;
    while (k < cpu.size() && cpu[k] == g[k]) ++k;
    if (k == cpu.size()) {
      ++same;
      continue;
    }
    // The first divergence: the CPU's top two logits there must be a near-tie.
    std::vector<float> row(logits.begin() + static_cast<std::ptrdiff_t>(k * model.vocab_size),
                           logits.begin() + static_cast<std::ptrdiff_t>((k + 1) * model.vocab_size));
    std::partial_sort(row.begin(), row.begin() + 2, row.end(), std::greater<>());
    EXPECT_LT(row[0] - row[1], 0.1f) << "request " << i << " diverges at output token " << k
                                     << " where the CPU's choice is clear";
  }
  std::printf("GPU tokens equal to the CPU's for %d of %zu requests\n", same, trace.requests.size());
}

}  // namespace
}  // namespace flowkv::runtime
