// The seam between the controller and its backend: the controller must serve every request
// correctly through ANY backend that honours the Backend contract, not just the simulator.
// A scripted fake backend completes outstanding work in a shuffled order with random durations
// unrelated to any cost model (and optionally fails some), and the controller must still finish
// every request with all invariants: completed + failed = total, no KV block held at the end,
// milestones in order, one token per output token.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <variant>

#include "core/control/controller.h"
#include "core/kv/pool_history.h"
#include "core/sched/load_scenario.h"
#include "tests/core/control/random_requests.h"

namespace flowkv::core {
namespace {

using nlohmann::json;

json base_scenario() {
  return json::parse(R"({
    "name": "seam",
    "cluster": {"nodes": [{"gpu": "H100-SXM", "count": 2, "role": "prefill"},
                          {"gpu": "H100-SXM", "count": 2, "role": "decode"}], "link": "NVLink4"},
    "model": "llama-3.1-8b",
    "kv": {"block_size": 16, "num_blocks": 4000},
    "workload": {"trace": "unused.csv"},
    "policies": {"global": "round-robin"},
    "seed": 3
  })");
}

std::vector<Request> make_requests(int n, uint64_t seed, int64_t max_prompt = 3000, int64_t max_output = 300) {
  return testing::random_requests(n, seed, {.max_gap_ns = 40'000'000, .max_prompt = max_prompt, .max_output = max_output});
}

// Completes outstanding work in a random order (not submission order), each after a random
// delay; delivers arrivals when the clock passes them. Optionally fails transfers and iterations.
class ShuffledBackend final : public Backend {
 public:
  ShuffledBackend(const std::vector<Request>& requests, uint64_t seed, double fail_probability = 0)
      : requests_(requests), rng_(seed), fail_probability_(fail_probability) {}

  Time now() const override { return now_; }

  void submit(const Work& work) override {
    Pending p;
    p.is_timer = std::holds_alternative<Timer>(work);
    p.can_fail = std::holds_alternative<Iteration>(work) || std::holds_alternative<Transfer>(work);
    std::visit([&](const auto& w) { p.id = w.id; }, work);
    if (const auto* it = std::get_if<Iteration>(&work)) {
      // The spans are only valid now: check them against the aggregates while we can.
      int64_t tokens = 0, ctx = 0;
      for (const PrefillItem& item : it->prefill) tokens += item.num_tokens;
      for (const DecodeItem& item : it->decode) ctx += item.context_tokens;
      EXPECT_EQ(tokens, it->num_prefill_tokens);
      EXPECT_EQ(ctx, it->decode_context_tokens);
      EXPECT_FALSE(it->prefill.empty() && it->decode.empty());
      ++iterations;
    }
    if (std::holds_alternative<Transfer>(work)) ++transfers;
    pending_.push_back(p);
  }

  std::optional<Completion> next() override {
    size_t real = 0;
    for (const Pending& p : pending_) real += p.is_timer ? 0 : 1;
    const bool have_arrival = next_arrival_ < requests_.size();
    if (!have_arrival && real == 0) return std::nullopt;
    const Time step = now_ + Duration::nanos(static_cast<int64_t>(uniform_below(rng_, 3'000'000)));
    if (have_arrival && (pending_.empty() || requests_[next_arrival_].arrival <= step)) {
      const Request& r = requests_[next_arrival_++];
      now_ = std::max(now_, r.arrival);
      Completion c;
      c.kind = Completion::Kind::kArrival;
      c.time = now_;
      c.request = &r;
      return c;
    }
    now_ = step;
    const size_t pick = uniform_below(rng_, pending_.size());
    const Pending p = pending_[pick];
    pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(pick));
    Completion c;
    c.time = now_;
    c.work = p.id;
    c.kind = p.is_timer ? Completion::Kind::kTimer : Completion::Kind::kWorkDone;
    const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
    if (p.can_fail && u < fail_probability_) {
      c.state = WorkState::kFailed;
      ++failures;
    }
    return c;
  }

  int64_t iterations = 0, transfers = 0, failures = 0;

 private:
  struct Pending {
    WorkId id{};
    bool is_timer = false;
    bool can_fail = false;
  };
  const std::vector<Request>& requests_;
  std::mt19937_64 rng_;
  double fail_probability_;
  size_t next_arrival_ = 0;
  Time now_ = Time::zero();
  std::vector<Pending> pending_;
};

void expect_milestones_in_order(const RequestRecord& r) {
  std::vector<OptTime> chain = {r.arrival, r.queued, r.prefill_start, r.prefill_end};
  if (r.transfer_start.has_value()) {
    chain.push_back(r.transfer_start);
    chain.push_back(r.transfer_end);
  }
  chain.push_back(r.first_token);
  chain.push_back(r.last_token);
  chain.push_back(r.finish);
  for (size_t i = 1; i < chain.size(); ++i) {
    ASSERT_TRUE(chain[i].has_value()) << "request " << to_int(r.id) << " milestone " << i;
    EXPECT_LE(chain[i - 1].value(), chain[i].value()) << "request " << to_int(r.id) << " milestone " << i;
  }
}

struct Outcome {
  int64_t completed = 0, failed = 0, preempted = 0;
};

Outcome run_and_check(const Scenario& scenario, const std::vector<Request>& requests, ShuffledBackend& backend) {
  ControllerOptions options;
  options.check_invariants = true;
  Controller controller(scenario, backend, options);
  controller.run();
  Outcome o;
  EXPECT_EQ(controller.totals().arrived, static_cast<int64_t>(requests.size()));
  EXPECT_EQ(controller.totals().completed + controller.totals().failed, static_cast<int64_t>(requests.size()));
  for (const NodeState& n : controller.nodes()) EXPECT_EQ(n.kv->num_used(), 0) << n.spec->name;
  EXPECT_EQ(controller.records().size(), requests.size());
  for (const RequestRecord& r : controller.records()) {
    if (r.status == RequestStatus::kCompleted) {
      ++o.completed;
      EXPECT_EQ(r.tokens, r.output_tokens) << "request " << to_int(r.id);
      expect_milestones_in_order(r);
    } else {
      EXPECT_EQ(r.status, RequestStatus::kFailed);
      EXPECT_NE(r.failure, FailureReason::kNone);
      EXPECT_NE(r.failure, FailureReason::kStalled) << "request " << to_int(r.id) << " got stuck";
      ++o.failed;
    }
    o.preempted += r.preemptions > 0;
  }
  return o;
}

TEST(ControllerSeam, ShuffledCompletionsServeEveryRequest) {
  const Scenario scenario = parse_scenario(base_scenario(), "test", ".");
  const auto requests = make_requests(300, 11);
  for (uint64_t seed : {1, 2, 3}) {
    ShuffledBackend backend(requests, seed);
    const Outcome o = run_and_check(scenario, requests, backend);
    EXPECT_EQ(o.completed, 300);
    EXPECT_EQ(o.failed, 0);
    EXPECT_GT(backend.transfers, 0);
  }
}

TEST(ControllerSeam, EveryDisaggregatedRequestTransfersItsKvOnce) {
  const Scenario scenario = parse_scenario(base_scenario(), "test", ".");
  const auto requests = make_requests(100, 5);
  ShuffledBackend backend(requests, 9);
  Controller controller(scenario, backend);
  controller.run();
  int64_t expected = 0;
  for (const RequestRecord& r : controller.records()) {
    EXPECT_NE(r.prefill_node, r.decode_node);
    EXPECT_LT(r.prefill_node, 2);  // P0, P1
    EXPECT_GE(r.decode_node, 2);   // D0, D1
    // A one-token request finishes at its prefill node; the others move their KV exactly once
    // (no preemption with this pool).
    EXPECT_EQ(r.transfer_start.has_value(), r.output_tokens > 1);
    expected += r.output_tokens > 1 ? 1 : 0;
    if (r.output_tokens > 1) {
      EXPECT_EQ(r.transfer_calls, 1);  // contiguous + merged, fresh pools
    }
  }
  EXPECT_EQ(backend.transfers, expected);
}

// Regression: a tiny KV pool must preempt (recompute) rather than drop or deadlock.
TEST(ControllerSeam, TinyPoolPreemptsAndStillCompletesEverything) {
  json j = base_scenario();
  j["kv"]["num_blocks"] = 260;  // 4160 tokens per node: a few requests at a time
  const Scenario scenario = parse_scenario(j, "test", ".");
  const auto requests = make_requests(200, 17, 2000, 1500);
  ShuffledBackend backend(requests, 4);
  const Outcome o = run_and_check(scenario, requests, backend);
  EXPECT_EQ(o.completed + o.failed, 200);
  EXPECT_GT(o.preempted, 0);
  // Requests that need more than a pool (prompt + output - 1 > 4160 tokens) fail with a reason;
  // everything else completes.
  int64_t too_large = 0;
  for (const Request& r : requests) too_large += (r.prompt_tokens + r.output_tokens - 1 + 15) / 16 > 260;
  EXPECT_EQ(o.failed, too_large);
}

TEST(ControllerSeam, ColocatedNodesNeverTransfer) {
  json j = base_scenario();
  j["cluster"]["nodes"] = json::parse(R"([{"gpu": "H100-SXM", "count": 3, "role": "colocated"}])");
  j["kv"]["num_blocks"] = 600;
  const Scenario scenario = parse_scenario(j, "test", ".");
  const auto requests = make_requests(150, 23, 3000, 800);
  ShuffledBackend backend(requests, 8);
  const Outcome o = run_and_check(scenario, requests, backend);
  EXPECT_EQ(o.completed, 150);
  EXPECT_EQ(backend.transfers, 0);
}

TEST(ControllerSeam, FailedWorkIsRetriedThenFailedWithAReason) {
  json j = base_scenario();
  j["max_retries"] = 2;
  const Scenario scenario = parse_scenario(j, "test", ".");
  const auto requests = make_requests(200, 31);
  ShuffledBackend backend(requests, 12, /*fail_probability=*/0.01);
  const Outcome o = run_and_check(scenario, requests, backend);
  EXPECT_GT(backend.failures, 0);
  EXPECT_EQ(o.completed + o.failed, 200);
  EXPECT_GT(o.completed, 0);
  EXPECT_GT(o.failed, 0);
  std::printf("completed %lld failed %lld after %lld injected failures\n", static_cast<long long>(o.completed),
              static_cast<long long>(o.failed), static_cast<long long>(backend.failures));
}

TEST(ControllerSeam, ChunkedPrefillAndDecodeFirstAlsoComplete) {
  for (const char* batch : {R"({"name": "continuous", "chunked_prefill": true, "max_batched_tokens": 512})",
                            R"({"name": "continuous", "order": "decode-first", "max_num_seqs": 8})"}) {
    json j = base_scenario();
    j["policies"]["batch"] = json::parse(batch);
    j["cluster"]["nodes"] = json::parse(R"([{"gpu": "H100-SXM", "count": 1, "role": "prefill"},
                                             {"gpu": "H100-SXM", "count": 1, "role": "colocated"}])");
    j["kv"]["num_blocks"] = 500;
    const Scenario scenario = parse_scenario(j, "test", ".");
    const auto requests = make_requests(120, 41, 2500, 600);
    ShuffledBackend backend(requests, 6);
    const Outcome o = run_and_check(scenario, requests, backend);
    EXPECT_EQ(o.completed, 120) << batch;
  }
}

TEST(ControllerSeam, RequestLargerThanEveryPoolFailsWithReason) {
  json j = base_scenario();
  j["kv"]["num_blocks"] = 100;  // 1600 tokens
  const Scenario scenario = parse_scenario(j, "test", ".");
  std::vector<Request> requests = make_requests(3, 2, 100, 10);
  requests[1].prompt_tokens = 5000;
  ShuffledBackend backend(requests, 1);
  Controller controller(scenario, backend);
  controller.run();
  EXPECT_EQ(controller.records()[1].status, RequestStatus::kFailed);
  EXPECT_EQ(controller.records()[1].failure, FailureReason::kTooLargeForPrefill);
  EXPECT_EQ(controller.records()[0].status, RequestStatus::kCompleted);
  EXPECT_EQ(controller.records()[2].status, RequestStatus::kCompleted);
}

}  // namespace
}  // namespace flowkv::core
