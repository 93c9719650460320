// What the live token-equality tests share (tests/runtime/live_proof_test.cc on the CPU,
// tests/runtime/cuda/live_cuda_proof_test.cc on a GPU): a small trace with shared prefixes, a
// crowded one, the scenario they run in, a device whose transfers lose a copy, and the run.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/sched/load_scenario.h"
#include "runtime/cpu/reference_forward.h"
#include "runtime/executor.h"
#include "runtime/live/live_run.h"
#include "runtime/live/token_source.h"
#include "runtime/model/model_weights.h"
#include "runtime/transport.h"

namespace flowkv::runtime::live_test {

using nlohmann::json;

inline constexpr uint64_t kSeed = 7;

// 10 requests, some sharing two 512-token prefix blocks (so a prefix cache can hit), arriving
// over ~20 ms after time scaling.
inline traces::Trace make_trace() {
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

inline json base_scenario() {
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

// Three requests sharing two 512-token prefix blocks, a second apart, and a short one with them.
inline traces::Trace spaced_prefix_trace() {
  traces::Trace t;
  t.source = "live_proof_test (spaced prefixes)";
  const int64_t prompts[] = {1100, 40, 1300, 1030};
  const int64_t arrivals_ms[] = {0, 0, 1000, 2000};
  for (int i = 0; i < 4; ++i) {
    core::Request r;
    r.id = core::RequestId{static_cast<uint64_t>(i)};
    r.arrival = core::Time::from_nanos(arrivals_ms[i] * 1'000'000);
    r.prompt_tokens = prompts[i];
    r.output_tokens = 6 + i;
    if (prompts[i] >= 1024) r.prefix_hashes = {1000, 1001, static_cast<uint64_t>(2000 + i)};
    t.requests.push_back(std::move(r));
  }
  return t;
}

// Six requests arriving together with long outputs, for a pool that cannot hold them all.
inline traces::Trace crowded_trace() {
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

inline Outcome run_on(Device& base, json j, const std::vector<std::string>& faults = {}, bool drop_copies = false,
               const traces::Trace& trace = make_trace()) {
  core::ScenarioOverrides o;
  o.faults = faults;
  core::apply_overrides(j, o);
  const core::Scenario s = core::parse_scenario(j, "live-proof", ".");
  DroppingDevice dropping(base);
  Device& device = drop_copies ? static_cast<Device&>(dropping) : base;
  LiveRunOptions opts;
  opts.backend.time_scale = 1.0;
  opts.run.check_invariants = true;
  LiveRunResult r = run_live(s, trace, device, opts);
  EXPECT_TRUE(r.stats.errors.empty()) << r.stats.errors.front();
  return Outcome{std::move(r.outputs), std::move(r.run.metrics)};
}

inline std::vector<std::vector<int32_t>> reference_for(const traces::Trace& trace) {
  const core::ModelSpec model = core::find_model("tiny-llama");
  const ModelWeights w = random_weights(model, kSeed);
  std::vector<std::vector<int32_t>> out;
  for (const core::Request& r : trace.requests) {
    const std::vector<int32_t> prompt = prompt_tokens(r, model.vocab_size, kSeed);
    out.push_back(reference_generate(w, model.dtype_bytes, prompt, r.output_tokens));
  }
  return out;
}

}  // namespace flowkv::runtime::live_test
