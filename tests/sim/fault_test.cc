// Node and link failures in the simulated cluster, one crash point at a time: a node that dies
// during a request's prefill, while sending or receiving its KV, or during its decode must cost
// the request a recovery (re-prefill, re-transfer) and never the request itself, unless the
// policy or the retry budget says so, in which case it fails with a reason. Every test also
// checks that no KV block is left held and that the milestones stay in order.
#include <gtest/gtest.h>

#include <string>

#include "core/control/controller.h"
#include "core/results/metrics.h"
#include "core/sched/load_scenario.h"
#include "sim/run.h"
#include "sim/sim_backend.h"

namespace flowkv::sim {
namespace {

using core::FailureReason;
using core::RequestRecord;
using core::RequestStatus;
using core::Time;
using nlohmann::json;

// P0 = node 0, P1 = 1, D0 = 2, D1 = 3.
json scenario_json() {
  return json::parse(R"({
    "name": "faults",
    "cluster": {"nodes": [{"gpu": "H100-SXM", "count": 2, "role": "prefill"},
                          {"gpu": "H100-SXM", "count": 2, "role": "decode"}], "link": "NVLink4"},
    "model": "llama-3.1-8b",
    "kv": {"block_size": 16, "num_blocks": 2000},
    "workload": {"trace": "unused.csv"},
    "policies": {"global": "round-robin"},
    "seed": 1
  })");
}

traces::Trace one_request(int64_t prompt = 2000, int64_t output = 200) {
  traces::Trace t;
  core::Request r;
  r.id = core::RequestId{0};
  r.prompt_tokens = prompt;
  r.output_tokens = output;
  t.requests.push_back(r);
  return t;
}

struct Outcome {
  std::vector<RequestRecord> records;
  core::RunMetrics metrics;
};

Outcome run(const json& j, const traces::Trace& trace) {
  const core::Scenario s = core::parse_scenario(j, "test", FLOWKV_SOURCE_DIR);
  SimBackend backend(s, trace.requests);
  core::ControllerOptions o;
  o.check_invariants = true;
  core::Controller c(s, backend, o);
  c.run();
  for (const core::NodeState& n : c.nodes()) {
    EXPECT_EQ(n.kv->num_used(), 0) << n.spec->name << " holds KV at the end";
    EXPECT_FALSE(n.busy) << n.spec->name;
  }
  Outcome out;
  out.metrics = core::compute_metrics(s, c.records(), c.itl(), c.nodes());
  out.records = c.records();
  return out;
}

void expect_in_order(const RequestRecord& r) {
  std::vector<core::OptTime> chain = {r.arrival, r.queued, r.prefill_start, r.prefill_end};
  if (r.transfer_start.has_value()) {
    chain.push_back(r.transfer_start);
    chain.push_back(r.transfer_end);
  }
  chain.push_back(r.first_token);
  chain.push_back(r.last_token);
  chain.push_back(r.finish);
  for (size_t i = 1; i < chain.size(); ++i) {
    ASSERT_TRUE(chain[i].has_value()) << "milestone " << i;
    EXPECT_LE(chain[i - 1].value(), chain[i].value()) << "milestone " << i;
  }
}

json with_fault(json j, const std::string& node, Time at, const char* kind = "crash", double for_s = -1,
                double factor = -1) {
  json f = {{"node", node}, {"at_s", at.seconds()}, {"kind", kind}};
  if (for_s > 0) f["for_s"] = for_s;
  if (factor > 0) f["factor"] = factor;
  j["faults"].push_back(f);
  return j;
}

Time mid(core::OptTime a, core::OptTime b) {
  return Time::from_nanos((a.value().ns() + b.value().ns()) / 2);
}

class CrashPoint : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = run(scenario_json(), one_request());
    ASSERT_EQ(base_.metrics.completed, 1);
    const RequestRecord& r = base_.records[0];
    ASSERT_EQ(r.prefill_node, 0);
    ASSERT_EQ(r.decode_node, 2);
    ASSERT_LT(r.prefill_start.value(), r.prefill_end.value());
    ASSERT_LT(r.transfer_start.value(), r.transfer_end.value());
  }
  const RequestRecord& base() const { return base_.records[0]; }
  Outcome base_;
};

TEST_F(CrashPoint, PrefillNodeDiesDuringPrefillRePrefillsElsewhere) {
  const Outcome o = run(with_fault(scenario_json(), "P0", mid(base().prefill_start, base().prefill_end)), one_request());
  ASSERT_EQ(o.metrics.completed, 1);
  const RequestRecord& r = o.records[0];
  expect_in_order(r);
  EXPECT_EQ(r.tokens, 200);
  EXPECT_EQ(r.prefill_node, 1);  // P1
  EXPECT_EQ(r.decode_node, 2);   // D0 is alive: kept
  EXPECT_EQ(r.retries, 1);
  EXPECT_EQ(o.metrics.recoveries.reprefill, 1);
  EXPECT_EQ(o.metrics.recoveries.retransfer, 0);
  EXPECT_EQ(o.metrics.node_failures, 1);
  EXPECT_GT(r.first_token.value(), base().first_token.value());
}

TEST_F(CrashPoint, PrefillNodeDiesWhileSendingRePrefillsElsewhere) {
  const Outcome o = run(with_fault(scenario_json(), "P0", mid(base().transfer_start, base().transfer_end)), one_request());
  ASSERT_EQ(o.metrics.completed, 1);
  const RequestRecord& r = o.records[0];
  expect_in_order(r);
  EXPECT_EQ(r.tokens, 200);  // the prefill's token never reached the client: computed again, once
  EXPECT_EQ(r.prefill_node, 1);
  EXPECT_EQ(o.metrics.recoveries.reprefill, 1);
  EXPECT_EQ(r.transfer_calls, 2 * base().transfer_calls);  // the failed transfer and the new one
}

TEST_F(CrashPoint, DecodeNodeDiesWhileReceivingReTransfersToAnother) {
  const Outcome o = run(with_fault(scenario_json(), "D0", mid(base().transfer_start, base().transfer_end)), one_request());
  ASSERT_EQ(o.metrics.completed, 1);
  const RequestRecord& r = o.records[0];
  expect_in_order(r);
  EXPECT_EQ(r.tokens, 200);
  EXPECT_EQ(r.prefill_node, 0);  // the KV was intact on P0: no recompute
  EXPECT_EQ(r.decode_node, 3);   // D1
  EXPECT_EQ(o.metrics.recoveries.retransfer, 1);
  EXPECT_EQ(o.metrics.recoveries.reprefill, 0);
  EXPECT_EQ(r.transfer_calls, 2 * base().transfer_calls);
  EXPECT_EQ(r.prefill_end.value(), base().prefill_end.value());
}

TEST_F(CrashPoint, DecodeNodeDiesDuringDecodeRePrefillsPromptAndTokensSoFar) {
  const Outcome o = run(with_fault(scenario_json(), "D0", mid(base().first_token, base().finish)), one_request());
  ASSERT_EQ(o.metrics.completed, 1);
  const RequestRecord& r = o.records[0];
  expect_in_order(r);
  EXPECT_EQ(r.tokens, 200);  // no token delivered twice, none missing
  EXPECT_EQ(r.decode_node, 3);
  EXPECT_EQ(o.metrics.recoveries.reprefill, 1);
  EXPECT_EQ(r.first_token.value(), base().first_token.value());  // delivered before the crash
  EXPECT_GT(r.finish.value(), base().finish.value());
  // The recompute covered the prompt and the tokens generated so far: more prefill tokens than
  // the prompt twice would be wrong, fewer than prompt + 1 too.
  int64_t prefill_tokens = 0;
  for (const core::NodeMetrics& n : o.metrics.nodes) prefill_tokens += n.prefill_tokens;
  EXPECT_GT(prefill_tokens, 2 * 2000);
  EXPECT_LT(prefill_tokens, 2 * 2000 + 200);
}

// Per-block transfers of the paged layout spend most of their time in per-call latency: a crash
// there must fail the transfer too (it never reaches the wire).
TEST_F(CrashPoint, DecodeNodeDiesDuringCallSetupReTransfers) {
  json j = scenario_json();
  j["kv"]["layout"] = "paged";
  j["kv"]["transfer"] = "per-block";
  const Outcome slow = run(j, one_request());
  const RequestRecord& b = slow.records[0];
  ASSERT_GT((b.transfer_end.value() - b.transfer_start.value()).ns(), 1'000'000);
  const Time at = b.transfer_start.value() + core::Duration::nanos(10'000);
  const Outcome o = run(with_fault(j, "D0", at), one_request());
  ASSERT_EQ(o.metrics.completed, 1);
  EXPECT_EQ(o.records[0].decode_node, 3);
  EXPECT_EQ(o.metrics.recoveries.retransfer, 1);
  expect_in_order(o.records[0]);
}

TEST_F(CrashPoint, FailPolicyFailsTheRequestWithAReason) {
  struct Case {
    const char* node;
    Time at;
    FailureReason reason;
  };
  const Case cases[] = {
      {"P0", mid(base().prefill_start, base().prefill_end), FailureReason::kNodeFailed},
      {"P0", mid(base().transfer_start, base().transfer_end), FailureReason::kNodeFailed},
      {"D0", mid(base().transfer_start, base().transfer_end), FailureReason::kTransferFailed},
      {"D0", mid(base().first_token, base().finish), FailureReason::kNodeFailed},
  };
  for (const Case& c : cases) {
    json j = with_fault(scenario_json(), c.node, c.at);
    j["policies"]["recovery"] = "fail";
    const Outcome o = run(j, one_request());
    ASSERT_EQ(o.metrics.failed, 1) << c.node << " at " << c.at.ns();
    EXPECT_EQ(o.records[0].failure, c.reason) << c.node << " at " << c.at.ns();
    EXPECT_TRUE(o.records[0].finish.has_value());
    EXPECT_EQ(o.metrics.failed_by_reason.at(std::string(core::to_string(c.reason))), 1);
  }
}

TEST_F(CrashPoint, RetryBudgetOfZeroFailsOnTheFirstLoss) {
  json j = with_fault(scenario_json(), "D0", mid(base().first_token, base().finish));
  j["max_retries"] = 0;
  const Outcome o = run(j, one_request());
  ASSERT_EQ(o.metrics.failed, 1);
  EXPECT_EQ(o.records[0].failure, FailureReason::kNodeFailed);
  EXPECT_GT(o.records[0].tokens, 0);  // what was delivered before stays counted
  EXPECT_LT(o.records[0].tokens, 200);
}

// A prefill node whose link is down for the whole run: the transfer fails, goes to the other
// decode node, fails again, and the request is prefilled again on the other prefill node.
TEST_F(CrashPoint, PrefillLinkDownRePrefillsAfterTwoFailedTransfers) {
  const Outcome o = run(with_fault(scenario_json(), "P0", Time::zero(), "link-down"), one_request());
  ASSERT_EQ(o.metrics.completed, 1);
  const RequestRecord& r = o.records[0];
  expect_in_order(r);
  EXPECT_EQ(r.prefill_node, 1);
  EXPECT_EQ(o.metrics.recoveries.retransfer, 1);
  EXPECT_EQ(o.metrics.recoveries.reprefill, 1);
  EXPECT_EQ(r.retries, 2);
  EXPECT_EQ(o.metrics.node_failures, 0);  // a link fault is not a node failure
}

TEST_F(CrashPoint, LinkDownWithFailPolicyFailsTheTransfer) {
  json j = with_fault(scenario_json(), "D0", Time::zero(), "link-down");
  j["policies"]["recovery"] = "fail";
  const Outcome o = run(j, one_request());
  ASSERT_EQ(o.metrics.failed, 1);
  EXPECT_EQ(o.records[0].failure, FailureReason::kTransferFailed);
}

TEST_F(CrashPoint, SlowLinkStretchesTheTransferBytes) {
  const Outcome o = run(with_fault(scenario_json(), "D0", Time::zero(), "link-slow", -1, 0.1), one_request());
  ASSERT_EQ(o.metrics.completed, 1);
  const double slow = o.records[0].transfer_time.seconds();
  const double fast = base().transfer_time.seconds();
  EXPECT_GT(slow, 8 * fast);
  EXPECT_LT(slow, 10.5 * fast);
  EXPECT_EQ(o.metrics.recoveries.retransfer + o.metrics.recoveries.reprefill, 0);
}

// A crashed node with for_s comes back empty and is routed to again.
TEST(Faults, NodeComesBackAndServesAgain) {
  traces::Trace t;
  for (int i = 0; i < 40; ++i) {
    core::Request r;
    r.id = core::RequestId{static_cast<uint64_t>(i)};
    r.arrival = Time::zero() + core::Duration::millis(100 * i);
    r.prompt_tokens = 500;
    r.output_tokens = 20;
    t.requests.push_back(r);
  }
  const Outcome o = run(with_fault(scenario_json(), "P0", Time::zero() + core::Duration::millis(250), "crash", 1.0), t);
  EXPECT_EQ(o.metrics.completed, 40);
  EXPECT_EQ(o.metrics.node_failures, 1);
  int before = 0, during = 0, after = 0;
  for (const RequestRecord& r : o.records) {
    if (r.prefill_node != 0) continue;
    const double at = r.arrival.seconds();
    before += at < 0.25;
    during += at >= 0.25 && at < 1.25;
    after += at >= 1.25;
    expect_in_order(r);
  }
  EXPECT_GT(before, 0);
  EXPECT_EQ(during, 0);  // unroutable while down
  EXPECT_GT(after, 0);   // routable again
}

// Every decode node gone for good: what is in flight and what arrives later fails with
// no_routable_node; the totals still balance.
TEST(Faults, NoNodeLeftFailsWithNoRoutableNode) {
  json j = scenario_json();
  j["cluster"]["nodes"] = json::parse(R"([{"gpu": "H100-SXM", "count": 1, "role": "prefill"},
                                           {"gpu": "H100-SXM", "count": 1, "role": "decode"}])");
  traces::Trace t;
  for (int i = 0; i < 30; ++i) {
    core::Request r;
    r.id = core::RequestId{static_cast<uint64_t>(i)};
    r.arrival = Time::zero() + core::Duration::millis(50 * i);
    r.prompt_tokens = 800;
    r.output_tokens = 10;
    t.requests.push_back(r);
  }
  const Outcome o = run(with_fault(j, "D0", Time::zero() + core::Duration::millis(500)), t);
  EXPECT_EQ(o.metrics.completed + o.metrics.failed, 30);
  EXPECT_GT(o.metrics.completed, 0);
  EXPECT_GT(o.metrics.failed_by_reason.at("no_routable_node"), 10);
  for (const RequestRecord& r : o.records) {
    if (r.status == RequestStatus::kFailed) {
      EXPECT_EQ(r.failure, FailureReason::kNoRoutableNode);
    }
  }
}

TEST(Faults, ColocatedNodeCrashMovesItsRequests) {
  json j = scenario_json();
  j["cluster"]["nodes"] = json::parse(R"([{"gpu": "H100-SXM", "count": 3, "role": "colocated"}])");
  traces::Trace t;
  for (int i = 0; i < 30; ++i) {
    core::Request r;
    r.id = core::RequestId{static_cast<uint64_t>(i)};
    r.arrival = Time::zero() + core::Duration::millis(20 * i);
    r.prompt_tokens = 1000;
    r.output_tokens = 300;
    t.requests.push_back(r);
  }
  const Outcome o = run(with_fault(j, "C1", Time::zero() + core::Duration::millis(700)), t);
  EXPECT_EQ(o.metrics.completed, 30);
  EXPECT_GT(o.metrics.recoveries.reprefill, 0);
  EXPECT_EQ(o.metrics.transfer_calls_total, 0);
  for (const RequestRecord& r : o.records) {
    EXPECT_EQ(r.tokens, r.output_tokens);
    expect_in_order(r);
    if (r.finish.value() > Time::zero() + core::Duration::millis(700)) {
      EXPECT_NE(r.decode_node, 1);
    }
  }
}

}  // namespace
}  // namespace flowkv::sim
