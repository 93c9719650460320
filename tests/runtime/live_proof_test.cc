// The proof of the seam: the KV the controller plans is the KV that is written, moved and read.
// For the same trace and seed, every request's generated tokens must be identical however it is
// served: colocated; disaggregated with each layout x transfer mode; on a fragmented pool; after
// preemptions; after a crash recovered by re-prefill; with prefix-cache hits — and equal to a
// plain, non-paged forward of the same model (reference_generate). The CPU executor is
// batch-invariant bit for bit, so any difference is a wrong byte, block or offset somewhere.
// Also: every request completes, no block leaks (the controller checks at the end), and a
// deliberately wrong transfer does show as different tokens (the test can fail).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "core/sched/load_scenario.h"
#include "runtime/cpu/cpu_executor.h"
#include "runtime/cpu/reference_forward.h"
#include "runtime/live/live_run.h"
#include "runtime/live/token_source.h"
#include "runtime/model/model_weights.h"
#include "runtime/transport.h"

namespace flowkv::runtime {
namespace {

using nlohmann::json;

constexpr uint64_t kSeed = 7;

// 10 requests, some sharing two 512-token prefix blocks (so a prefix cache can hit), arriving
// over ~20 ms after time scaling.
traces::Trace make_trace() {
  traces::Trace t;
  t.source = "live_proof_test";
  const int64_t prompts[] = {40, 1100, 300, 1300, 17, 700, 1030, 90, 1200, 256};
  const int64_t outputs[] = {12, 9, 20, 7, 16, 11, 5, 18, 8, 13};
  for (int i = 0; i < 10; ++i) {
    core::Request r;
    r.id = core::RequestId{static_cast<uint64_t>(i)};
    r.arrival = core::Time::from_nanos(int64_t{i} * 2'000'000);
    r.prompt_tokens = prompts[i];
    r.output_tokens = outputs[i];
    if (prompts[i] >= 1024) r.prefix_hashes = {1000, 1001, static_cast<uint64_t>(2000 + i)};
    t.requests.push_back(std::move(r));
  }
  return t;
}

json base_scenario() {
  return json::parse(R"({
    "name": "live-proof",
    "model": "tiny-llama",
    "cluster": {"nodes": [{"gpu": "H100-SXM", "count": 1, "role": "prefill"},
                          {"gpu": "H100-SXM", "count": 1, "role": "decode"}]},
    "kv": {"block_size": 16, "num_blocks": 512},
    "workload": {"generator": {"arrival": {"process": "poisson", "rate": 10}, "requests": 1,
                               "input": {"dist": "fixed", "value": 16}, "output": {"dist": "fixed", "value": 2}}},
    "policies": {"global": "round-robin", "profile": false},
    "seed": 7
  })");
}

struct Outcome {
  std::vector<std::vector<int32_t>> outputs;
  core::RunMetrics metrics;
};

// A device whose transports drop the last copy of every transfer: the proof must catch it.
class DroppingTransport final : public Transport {
 public:
  explicit DroppingTransport(std::unique_ptr<Transport> inner) : inner_(std::move(inner)) {}
  const char* name() const override { return "dropping"; }
  TransferId submit(TransferDesc desc) override {
    if (desc.copies.size() > 1) desc.copies.pop_back();
    return inner_->submit(std::move(desc));
  }
  TransferState poll(TransferId id) override { return inner_->poll(id); }
  TransferState wait(TransferId id, core::Duration t) override { return inner_->wait(id, t); }
  void cancel(TransferId id) override { inner_->cancel(id); }
  std::string error(TransferId id) const override { return inner_->error(id); }
  void release(TransferId id) override { inner_->release(id); }
  int64_t calls(TransferId id) const override { return inner_->calls(id); }

 private:
  std::unique_ptr<Transport> inner_;
};

class DroppingDevice final : public Device {
 public:
  explicit DroppingDevice(Device& inner) : inner_(inner) {}
  std::string name() const override { return "dropping " + inner_.name(); }
  int64_t free_bytes() const override { return inner_.free_bytes(); }
  std::unique_ptr<NodeExecutor> make_node(const core::KvLayout& layout) override { return inner_.make_node(layout); }
  std::unique_ptr<Transport> make_transport() override {
    return std::make_unique<DroppingTransport>(inner_.make_transport());
  }
  DeviceBytes allocate(int64_t bytes) override { return inner_.allocate(bytes); }

 private:
  Device& inner_;
};

// Six requests arriving together with long outputs, for a pool that cannot hold them all.
traces::Trace crowded_trace() {
  traces::Trace t;
  t.source = "live_proof_test (crowded)";
  for (int i = 0; i < 6; ++i) {
    core::Request r;
    r.id = core::RequestId{static_cast<uint64_t>(i)};
    r.prompt_tokens = 50 + 7 * i;
    r.output_tokens = 40;
    t.requests.push_back(std::move(r));
  }
  return t;
}

Outcome run(json j, const std::vector<std::string>& faults = {}, bool drop_copies = false,
            const traces::Trace& trace = make_trace()) {
  core::ScenarioOverrides o;
  o.faults = faults;
  core::apply_overrides(j, o);
  const core::Scenario s = core::parse_scenario(j, "live-proof", ".");
  auto weights = std::make_shared<const ModelWeights>(random_weights(s.model, kSeed));
  CpuDevice cpu(weights, CpuDeviceOptions{});
  DroppingDevice dropping(cpu);
  Device& device = drop_copies ? static_cast<Device&>(dropping) : cpu;
  LiveRunOptions opts;
  opts.backend.time_scale = 1.0;
  opts.run.check_invariants = true;
  LiveRunResult r = run_live(s, trace, device, opts);
  EXPECT_TRUE(r.stats.errors.empty()) << r.stats.errors.front();
  return Outcome{std::move(r.outputs), std::move(r.run.metrics)};
}

std::vector<std::vector<int32_t>> reference_for(const traces::Trace& trace) {
  const core::ModelSpec model = core::find_model("tiny-llama");
  const ModelWeights w = random_weights(model, kSeed);
  std::vector<std::vector<int32_t>> out;
  for (const core::Request& r : trace.requests) {
    const std::vector<int32_t> prompt = prompt_tokens(r, model.vocab_size, kSeed);
    out.push_back(reference_generate(w, model.dtype_bytes, prompt, r.output_tokens));
  }
  return out;
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
  json j = base_scenario();
  j["cluster"]["nodes"] = json::parse(R"([{"gpu": "H100-SXM", "count": 1, "role": "colocated"}])");
  j["kv"]["prefix_cache"] = true;
  const Outcome o = run(j);
  EXPECT_GT(o.metrics.prefix_hit_tokens, 0);
  expect_reference(o, "prefix cache");
}

}  // namespace
}  // namespace flowkv::runtime
