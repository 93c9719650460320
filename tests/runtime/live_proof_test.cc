// The proof of the seam: the KV the controller plans is the KV that is written, moved and read.
// For the same trace and seed, every request's generated tokens must be identical however it is
// served: colocated; disaggregated with each layout x transfer mode; on a fragmented pool; after
// preemptions; after a crash recovered by re-prefill; with prefix-cache hits — and equal to a
// plain, non-paged forward of the same model (reference_generate). The CPU executor is
// batch-invariant bit for bit, so any difference is a wrong byte, block or offset somewhere.
// Also: every request completes, no block leaks (the controller checks at the end), and a
// deliberately wrong transfer does show as different tokens (the test can fail).
#include "runtime/cpu/cpu_executor.h"
#include "tests/runtime/live_fixtures.h"

namespace flowkv::runtime {
namespace {

using namespace live_test;

Outcome run(json j, const std::vector<std::string>& faults = {}, bool drop_copies = false,
            const traces::Trace& trace = make_trace()) {
  static CpuDevice cpu(std::make_shared<const ModelWeights>(random_weights(core::find_model("tiny-llama"), kSeed)));
  return run_on(cpu, std::move(j), faults, drop_copies, trace);
}

const std::vector<std::vector<int32_t>>& reference() {
  static const std::vector<std::vector<int32_t>> ref = reference_for(make_trace());
  return ref;
}

void expect_reference(const Outcome& o, const std::string& what,
                      const std::vector<std::vector<int32_t>>& ref = reference()) {
  EXPECT_EQ(o.metrics.completed, static_cast<int64_t>(ref.size())) << what;
  ASSERT_EQ(o.outputs.size(), ref.size()) << what;
  for (size_t i = 0; i < o.outputs.size(); ++i) {
    EXPECT_EQ(o.outputs[i], ref[i]) << what << ": request " << i;
  }
}

TEST(LiveProof, ColocatedEqualsThePlainForward) {
  json j = base_scenario();
  j["cluster"]["nodes"] = json::parse(R"([{"gpu": "H100-SXM", "count": 1, "role": "colocated"}])");
  expect_reference(run(j), "colocated");
}

TEST(LiveProof, DisaggregatedEveryLayoutAndTransferMode) {
  for (const char* layout : {"paged", "contiguous"}) {
    for (const char* mode : {"per-block", "per-layer", "merged"}) {
      json j = base_scenario();
      j["kv"]["layout"] = layout;
      j["kv"]["transfer"] = mode;
      expect_reference(run(j), std::string(layout) + "/" + mode);
    }
  }
}

TEST(LiveProof, AMissingCopyShowsAsDifferentTokens) {
  // The proof can fail: per-block transfers that lose their last copy leave the decode node
  // with one block of zeros, and the requests that read it generate other tokens.
  json j = base_scenario();
  j["kv"]["layout"] = "paged";
  j["kv"]["transfer"] = "per-block";
  const Outcome o = run(j, {}, true);
  int differing = 0;
  for (size_t i = 0; i < o.outputs.size(); ++i) differing += o.outputs[i] != reference()[i] ? 1 : 0;
  EXPECT_GT(differing, 0);
}

TEST(LiveProof, FragmentedPoolWithTheFreeListAllocator) {
  // Two prefill nodes and two decode nodes, a free-list allocator and small pools: blocks are
  // scattered and transfers run between mismatched block ids.
  json j = base_scenario();
  j["cluster"]["nodes"] = json::parse(R"([{"gpu": "H100-SXM", "count": 2, "role": "prefill"},
                                          {"gpu": "H100-SXM", "count": 2, "role": "decode"}])");
  j["kv"]["allocator"] = "freelist";
  j["kv"]["num_blocks"] = 200;
  expect_reference(run(j), "fragmented");
}

TEST(LiveProof, PreemptionsRecomputeTheSameTokens) {
  // Every request at once on a pool too small for all of them: decodes run out of blocks and
  // the youngest are preempted and recomputed (prompt and generated tokens).
  json j = base_scenario();
  j["cluster"]["nodes"] = json::parse(R"([{"gpu": "H100-SXM", "count": 1, "role": "colocated"}])");
  j["kv"]["num_blocks"] = 24;
  const traces::Trace trace = crowded_trace();
  const Outcome o = run(j, {}, false, trace);
  EXPECT_GT(o.metrics.preemptions, 0);
  expect_reference(o, "preempted", reference_for(trace));
}

TEST(LiveProof, CrashRecoveredByReprefill) {
  // The decode node crashes mid-run and comes back empty: its requests re-prefill; its pool was
  // poisoned, so any read of lost KV would change tokens.
  json j = base_scenario();
  j["cluster"]["nodes"] = json::parse(R"([{"gpu": "H100-SXM", "count": 1, "role": "prefill"},
                                          {"gpu": "H100-SXM", "count": 2, "role": "decode"}])");
  const Outcome o = run(j, {"node=D0,at=0.08,for=0.02"});
  EXPECT_EQ(o.metrics.node_failures, 1);
  expect_reference(o, "crash");
}

TEST(LiveProof, PrefixCacheHitsReuseTheCachedBlocks) {
  // The requests sharing a prefix arrive a second apart, so the first one's prefill has
  // finished (and cached its blocks) before the next one starts, however loaded the machine is.
  json j = base_scenario();
  j["cluster"]["nodes"] = json::parse(R"([{"gpu": "H100-SXM", "count": 1, "role": "colocated"}])");
  j["kv"]["prefix_cache"] = true;
  const traces::Trace trace = spaced_prefix_trace();
  const Outcome o = run(j, {}, false, trace);
  EXPECT_GT(o.metrics.prefix_hit_tokens, 0);
  expect_reference(o, "prefix cache", reference_for(trace));
}

}  // namespace
}  // namespace flowkv::runtime
