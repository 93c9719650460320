// Sustained overload: requests arrive many times faster than the cluster serves them, for the
// whole run, with KV pools small enough to preempt. The simulation must finish with every
// request served (overload delays requests, it never drops them) and the controller's per-request
// state must be given back: once the run is over no node holds a block or a queued request.
// (bench/overload_bench.cc measures the memory of a 1M-request overloaded run.)
#include <gtest/gtest.h>

#include "core/control/controller.h"
#include "core/sched/load_scenario.h"
#include "sim/run.h"
#include "sim/sim_backend.h"

namespace flowkv::sim {
namespace {

using nlohmann::json;

TEST(Overload, TenTimesCapacityFinishesWithEveryRequestServed) {
  const json j = json::parse(R"({
    "name": "overload",
    "cluster": {"nodes": [{"gpu": "H100-SXM", "count": 1, "role": "prefill"},
                          {"gpu": "H100-SXM", "count": 1, "role": "decode"}], "link": "NVLink4"},
    "model": "llama-3.1-8b",
    "kv": {"block_size": 16, "num_blocks": 3000},
    "workload": {"generator": {"arrival": {"process": "poisson", "rate": 2000}, "requests": 20000,
                               "input": {"dist": "uniform", "min": 100, "max": 1500},
                               "output": {"dist": "uniform", "min": 1, "max": 300}}},
    "seed": 2
  })");
  const core::Scenario s = core::parse_scenario(j, "test", FLOWKV_SOURCE_DIR);
  const traces::Trace trace = load_scenario_trace(s);
  SimBackend backend(s, trace.requests);
  core::Controller c(s, backend);
  c.run();
  EXPECT_EQ(c.totals().completed, 20000);
  EXPECT_EQ(c.totals().failed, 0);
  EXPECT_GT(c.totals().preemptions, 0);
  // Served far slower than offered: the arrivals span 10 s, serving them takes much longer.
  const double arrivals_s = trace.requests.back().arrival.seconds();
  EXPECT_GT(c.totals().end.seconds(), 5 * arrivals_s);
  for (const core::NodeState& n : c.nodes()) {
    EXPECT_EQ(n.kv->num_used(), 0) << n.spec->name;
    EXPECT_TRUE(n.waiting.empty() && n.prefilling.empty() && n.ready.empty() && n.decoding.empty())
        << n.spec->name;
  }
  for (const core::RequestRecord& r : c.records()) ASSERT_EQ(r.tokens, r.output_tokens) << core::to_int(r.id);
}

}  // namespace
}  // namespace flowkv::sim
