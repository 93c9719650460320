// What a live run costs outside the executor: the controller plus the live backend (building the
// Work's items, posting the job to the node's worker, returning the result, appending the tokens)
// per iteration, with an executor that does nothing. Batch 1 (one request decoding 4,000 tokens)
// and batch 64 (64 requests decoding 1,000 tokens each, all arriving at once). Goal (issue 13):
// at most 50 us per iteration. Prints figures; never passes or fails on time.
//
//   live_overhead_bench [--json FILE]
//
// us/iteration = wall time of the run / iterations executed (the executor returns at once, so
// that is all overhead, including the thread hand-off to the node's worker and back).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/sched/load_scenario.h"
#include "runtime/cpu/host_copy_transport.h"
#include "runtime/live/live_run.h"

namespace {

using namespace flowkv;

// A node whose forward pass returns token 1 for every sampled item without computing anything.
class NullNode final : public runtime::NodeExecutor {
 public:
  explicit NullNode(const core::KvLayout& layout) : layout_(layout), pool_(64) {}
  const core::KvLayout& layout() const override { return layout_; }
  std::byte* kv_data() override { return pool_.data(); }
  void run(std::span<const runtime::ExecItem> items, std::span<int32_t> next, std::span<float>) override {
    for (size_t i = 0; i < items.size(); ++i) {
      if (items[i].sample) next[i] = 1;
    }
  }
  void poison() override {}

 private:
  core::KvLayout layout_;
  std::vector<std::byte> pool_;
};

class NullDevice final : public runtime::Device {
 public:
  std::string name() const override { return "null (no compute)"; }
  int64_t free_bytes() const override { return int64_t{1} << 50; }
  std::unique_ptr<runtime::NodeExecutor> make_node(const core::KvLayout& layout) override {
    return std::make_unique<NullNode>(layout);
  }
  std::unique_ptr<runtime::Transport> make_transport() override {
    return std::make_unique<runtime::HostCopyTransport>();
  }
  runtime::DeviceBytes allocate(int64_t bytes) override {
    return runtime::DeviceBytes(new std::byte[static_cast<size_t>(bytes)], [](std::byte* p) { delete[] p; });
  }
};

struct Figure {
  int batch = 0;
  int64_t iterations = 0;
  double wall_s = 0;
  double us_per_iteration = 0;
};

Figure measure(int batch, int64_t output_tokens) {
  nlohmann::json j = nlohmann::json::parse(R"({
    "name": "live-overhead", "model": "tiny-llama",
    "cluster": {"nodes": [{"gpu": "H100-SXM", "count": 1, "role": "colocated"}]},
    "kv": {"block_size": 16, "num_blocks": 100000},
    "workload": {"generator": {"arrival": {"process": "poisson", "rate": 10}, "requests": 1,
                               "input": {"dist": "fixed", "value": 16}, "output": {"dist": "fixed", "value": 2}}},
    "policies": {"batch": {"name": "continuous", "max_num_seqs": 256}}
  })");
  core::apply_overrides(j, {});
  const core::Scenario s = core::parse_scenario(j, "live_overhead_bench", ".");
  traces::Trace trace;
  for (int i = 0; i < batch; ++i) {
    core::Request r;
    r.id = core::RequestId{static_cast<uint64_t>(i)};
    r.prompt_tokens = 1;
    r.output_tokens = output_tokens;
    trace.requests.push_back(r);
  }
  NullDevice device;
  runtime::LiveRunOptions opts;
  const auto start = std::chrono::steady_clock::now();
  const runtime::LiveRunResult r = runtime::run_live(s, trace, device, opts);
  Figure f;
  f.batch = batch;
  f.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  f.iterations = r.run.totals.iterations;
  f.us_per_iteration = f.iterations > 0 ? f.wall_s * 1e6 / static_cast<double>(f.iterations) : 0;
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_file;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
      json_file = argv[++i];
    } else {
      std::fprintf(stderr, "usage: live_overhead_bench [--json FILE]\n");
      return 2;
    }
  }
  std::vector<Figure> figures = {measure(1, 4000), measure(64, 1000)};
  std::printf("%-8s %12s %10s %16s\n", "batch", "iterations", "wall s", "us / iteration");
  nlohmann::json out = nlohmann::json::array();
  for (const Figure& f : figures) {
    std::printf("%-8d %12lld %10.3f %16.1f\n", f.batch, static_cast<long long>(f.iterations), f.wall_s,
                f.us_per_iteration);
    out.push_back({{"batch", f.batch}, {"iterations", f.iterations}, {"wall_s", f.wall_s},
                   {"us_per_iteration", f.us_per_iteration}});
  }
  if (!json_file.empty()) std::ofstream(json_file) << out.dump(2) << '\n';
  return 0;
}
