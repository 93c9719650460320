// The timeline file (core/results/timeline.h) must load in Perfetto and chrome://tracing and show the
// run faithfully. Invariants protected here:
//  - the file is one JSON object with a traceEvents array; timestamps are exact nanoseconds
//    printed as microseconds with three decimals;
//  - slices on one thread nest (the viewers drop slices that overlap partly), and there are no
//    unmatched B/E events;
//  - every flow start has exactly one finish with the same id, both inside a transfer slice;
//  - every node has its process metadata (name, GPU, role) and counter tracks;
//  - the batch composition in the slices adds up to the workload's tokens;
//  - a window keeps exactly the events that touch it and nothing else;
//  - the same run gives byte-identical files.
#include "core/results/timeline.h"

#include <gtest/gtest.h>

#include <map>
#include <queue>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <tuple>
#include <variant>

#include "core/base/error.h"
#include "core/control/controller.h"
#include "core/kv/pool_history.h"
#include "core/sched/load_scenario.h"
#include "tests/core/control/random_requests.h"

namespace flowkv::core {
namespace {

using nlohmann::json;

json scenario_json() {
  return json::parse(R"({
    "name": "timeline",
    "cluster": {"nodes": [{"gpu": "H100-SXM", "count": 2, "role": "prefill"},
                          {"gpu": "H100-SXM", "count": 2, "role": "decode"}], "link": "NVLink4"},
    "model": "llama-3.1-8b",
    "kv": {"block_size": 16, "num_blocks": 20000},
    "workload": {"trace": "unused.csv"},
    "policies": {"global": "round-robin"},
    "seed": 3
  })");
}

std::vector<Request> make_requests(int n, uint64_t seed) {
  return testing::random_requests(n, seed, {.max_gap_ns = 20'000'000, .max_prompt = 2000, .max_output = 60});
}

// A deterministic event-driven backend with simple costs (not the simulator's: core tests
// do not link sim/). Iterations, transfers and flips take time; timers do not keep it alive.
class FixedCostBackend final : public Backend {
 public:
  explicit FixedCostBackend(const std::vector<Request>& requests) : requests_(requests) {}
  Time now() const override { return now_; }

  void submit(const Work& work) override {
    Duration d;
    WorkId id{};
    bool timer = false;
    if (const auto* it = std::get_if<Iteration>(&work)) {
      id = it->id;
      d = Duration::micros(800) + Duration::nanos(300) * it->num_prefill_tokens +
          Duration::micros(40) * static_cast<int64_t>(it->decode.size());
    } else if (const auto* t = std::get_if<Transfer>(&work)) {
      id = t->id;
      d = Duration::micros(30) * t->calls + Duration::nanos(t->bytes / 100);  // 100 GB/s
    } else if (const auto* f = std::get_if<RoleFlip>(&work)) {
      id = f->id;
      d = f->cost;
    } else if (const auto* tm = std::get_if<Timer>(&work)) {
      id = tm->id;
      d = tm->delay;
      timer = true;
    }
    queue_.push(Item{now_ + d, seq_++, id, timer});
    if (!timer) ++outstanding_;
  }

  std::optional<Completion> next() override {
    const bool have_arrival = next_arrival_ < requests_.size();
    if (!have_arrival && outstanding_ == 0) return std::nullopt;
    if (have_arrival && (queue_.empty() || requests_[next_arrival_].arrival <= queue_.top().time)) {
      const Request& r = requests_[next_arrival_++];
      now_ = std::max(now_, r.arrival);
      Completion c;
      c.kind = Completion::Kind::kArrival;
      c.time = now_;
      c.request = &r;
      return c;
    }
    const Item item = queue_.top();
    queue_.pop();
    now_ = item.time;
    Completion c;
    c.time = now_;
    c.work = item.id;
    c.kind = item.timer ? Completion::Kind::kTimer : Completion::Kind::kWorkDone;
    if (!item.timer) --outstanding_;
    return c;
  }

 private:
  struct Item {
    Time time;
    uint64_t seq;
    WorkId id;
    bool timer;
    bool operator>(const Item& o) const { return std::tie(time, seq) > std::tie(o.time, o.seq); }
  };
  const std::vector<Request>& requests_;
  std::priority_queue<Item, std::vector<Item>, std::greater<>> queue_;
  size_t next_arrival_ = 0;
  uint64_t seq_ = 0;
  int64_t outstanding_ = 0;
  Time now_ = Time::zero();
};

struct Recorded {
  std::string text;
  TimelineStats stats;
  ControllerTotals totals;
};

Recorded record(const Scenario& scenario, const std::vector<Request>& requests,
                std::optional<TimelineWindow> window = std::nullopt, bool watch = true) {
  std::ostringstream out;
  FixedCostBackend backend(requests);
  Timeline timeline(out, scenario, window);
  ControllerOptions options;
  options.observer = &timeline;
  Controller controller(scenario, backend, options);
  if (watch) timeline.watch(controller.nodes());
  controller.run();
  Recorded r;
  r.stats = timeline.finish();
  r.text = out.str();
  r.totals = controller.totals();
  return r;
}

// Microseconds (as printed) back to nanoseconds, exactly.
int64_t ns_of(const json& v) { return std::llround(v.get<double>() * 1000.0); }

struct Slice {
  int64_t start, end;
  std::string name;
};

// Slices on one thread either follow each other or nest.
void expect_nesting(const json& events) {
  std::map<std::pair<int64_t, int64_t>, std::vector<Slice>> by_thread;
  for (const json& e : events) {
    if (e["ph"] != "X") continue;
    const int64_t ts = ns_of(e["ts"]), dur = ns_of(e["dur"]);
    ASSERT_GE(dur, 0) << e.dump();
    by_thread[{e["pid"].get<int64_t>(), e["tid"].get<int64_t>()}].push_back({ts, ts + dur, e["name"]});
  }
  for (auto& [thread, slices] : by_thread) {
    std::sort(slices.begin(), slices.end(), [](const Slice& a, const Slice& b) {
      return a.start != b.start ? a.start < b.start : a.end > b.end;
    });
    std::vector<int64_t> open;  // ends of the enclosing slices
    for (const Slice& s : slices) {
      while (!open.empty() && open.back() <= s.start) open.pop_back();
      if (!open.empty()) {
        EXPECT_LE(s.end, open.back()) << "slice '" << s.name << "' at " << s.start << " on pid " << thread.first
                                      << " tid " << thread.second << " overlaps its neighbour partly";
      }
      open.push_back(s.end);
    }
  }
}

// Is there a slice on the flow event's thread, of its category, that starts at its timestamp?
// (DevTools binds a flow event only to such a slice; Perfetto and chrome://tracing to the slice
// enclosing its timestamp, which this one is.)
bool bound(const json& events, const json& flow) {
  for (const json& e : events) {
    if (e["ph"] == "X" && e["pid"] == flow["pid"] && e["tid"] == flow["tid"] && e["cat"] == flow["cat"] &&
        e["ts"] == flow["ts"]) {
      return true;
    }
  }
  return false;
}

void expect_flows_matched(const json& events) {
  std::map<uint64_t, json> starts, finishes;
  for (const json& e : events) {
    if (e["ph"] == "s") {
      EXPECT_TRUE(starts.emplace(e["id"].get<uint64_t>(), e).second) << "flow id reused: " << e.dump();
    } else if (e["ph"] == "f") {
      EXPECT_TRUE(finishes.emplace(e["id"].get<uint64_t>(), e).second) << "flow id reused: " << e.dump();
      EXPECT_EQ(e["bp"], "e");
    }
  }
  EXPECT_EQ(starts.size(), finishes.size());
  for (const auto& [id, s] : starts) {
    const auto f = finishes.find(id);
    ASSERT_NE(f, finishes.end()) << "flow " << id << " has no finish";
    EXPECT_EQ(s["cat"], f->second["cat"]);
    EXPECT_EQ(s["name"], f->second["name"]);
    EXPECT_NE(s["pid"], f->second["pid"]) << "a KV flow joins two nodes";
    EXPECT_TRUE(bound(events, s)) << s.dump();
    EXPECT_TRUE(bound(events, f->second)) << f->second.dump();
  }
}

TEST(Timeline, FileLoadsAndShowsTheRun) {
  const Scenario scenario = parse_scenario(scenario_json(), "test", ".");
  const auto requests = make_requests(200, 7);
  const Recorded r = record(scenario, requests);
  const json doc = json::parse(r.text);  // throws (fails the test) if not JSON
  ASSERT_TRUE(doc.contains("traceEvents"));
  const json& events = doc["traceEvents"];
  ASSERT_TRUE(events.is_array());
  EXPECT_EQ(static_cast<int64_t>(events.size()), r.stats.events);
  EXPECT_EQ(static_cast<int64_t>(r.text.size()), r.stats.bytes);
  EXPECT_EQ(r.stats.dropped, 0);
  EXPECT_EQ(doc["displayTimeUnit"], "ms");

  // Timestamps: microseconds with exactly three decimals, never exponents.
  const std::regex bad_ts(R"re("(ts|dur)":(-?\d+(\.\d{0,2}|\.\d{4,})?[,}]|[^-\d]))re");
  EXPECT_FALSE(std::regex_search(r.text, bad_ts));

  std::map<int64_t, std::string> process_names;
  std::map<int64_t, std::set<std::string>> counters;
  int64_t prefill_tokens = 0, decode_tokens = 0, transfer_slices = 0, begins = 0, ends = 0;
  for (const json& e : events) {
    const std::string ph = e["ph"];
    if (ph == "M" && e["name"] == "process_name") process_names[e["pid"]] = e["args"]["name"];
    if (ph == "C") counters[e["pid"]].insert(e["name"].get<std::string>());
    if (ph == "B") ++begins;
    if (ph == "E") ++ends;
    if (ph == "X" && e["name"] == "prefill") prefill_tokens += e["args"]["tokens"].get<int64_t>();
    if (ph == "X" && e["name"] == "decode") decode_tokens += e["args"]["tokens"].get<int64_t>();
    if (ph == "X" && e["cat"] == "transfer") ++transfer_slices;
  }
  EXPECT_EQ(begins, ends);
  ASSERT_EQ(process_names.size(), scenario.nodes.size());
  for (size_t i = 0; i < scenario.nodes.size(); ++i) {
    const std::string& name = process_names[static_cast<int64_t>(i) + 1];
    EXPECT_NE(name.find(scenario.nodes[i].name), std::string::npos) << name;
    EXPECT_NE(name.find("H100-SXM"), std::string::npos) << name;
    EXPECT_NE(name.find(to_string(scenario.nodes[i].role)), std::string::npos) << name;
    EXPECT_EQ(counters[static_cast<int64_t>(i) + 1],
              (std::set<std::string>{"KV usage", "queued prefill", "running requests"}))
        << scenario.nodes[i].name;
  }
  // Pools are large enough that nothing is preempted: every prompt token is prefilled once,
  // every output token after the first is one decode step, every multi-token request moves once.
  int64_t prompt = 0, later_tokens = 0;
  for (const Request& q : requests) {
    prompt += q.prompt_tokens;
    later_tokens += q.output_tokens - 1;
  }
  ASSERT_EQ(r.totals.preemptions, 0);
  EXPECT_EQ(prefill_tokens, prompt);
  EXPECT_EQ(decode_tokens, later_tokens);
  EXPECT_EQ(transfer_slices, 2 * r.totals.transfers);
  EXPECT_GT(r.totals.transfers, 0);
  expect_nesting(events);
  expect_flows_matched(events);
}

TEST(Timeline, SameRunSameBytes) {
  const Scenario scenario = parse_scenario(scenario_json(), "test", ".");
  const auto requests = make_requests(120, 3);
  const Recorded a = record(scenario, requests);
  const Recorded b = record(scenario, requests);
  EXPECT_GT(a.text.size(), 1000u);
  EXPECT_EQ(a.text, b.text);
  const Recorded wa = record(scenario, requests, TimelineWindow{Time::from_nanos(200'000'000), Time::from_nanos(900'000'000)});
  const Recorded wb = record(scenario, requests, TimelineWindow{Time::from_nanos(200'000'000), Time::from_nanos(900'000'000)});
  EXPECT_EQ(wa.text, wb.text);
}

TEST(Timeline, WindowKeepsWhatTouchesItAndDropsTheRest) {
  const Scenario scenario = parse_scenario(scenario_json(), "test", ".");
  const auto requests = make_requests(200, 7);
  const Recorded full = record(scenario, requests);
  const int64_t lo = 500'000'000, hi = 1'500'000'000;  // [0.5 s, 1.5 s)
  ASSERT_GT(full.totals.end.ns(), hi) << "the run must outlast the window for this test";
  const Recorded part = record(scenario, requests, TimelineWindow{Time::from_nanos(lo), Time::from_nanos(hi)});
  const json all = json::parse(full.text)["traceEvents"];
  const json doc = json::parse(part.text);
  const json& kept = doc["traceEvents"];
  EXPECT_GT(part.stats.dropped, 0);
  EXPECT_LT(part.stats.bytes, full.stats.bytes);
  EXPECT_EQ(doc["otherData"]["window_us"], json::parse("[500000.000, 1500000.000]"));

  // Every slice in the window's file touches the window; every instant and counter is inside.
  auto touches = [&](const json& e) {
    const int64_t ts = ns_of(e["ts"]);
    if (e["ph"] == "X") return ts < hi && (ts + ns_of(e["dur"]) > lo || ts >= lo);
    return ts >= lo && ts < hi;
  };
  std::multiset<std::string> kept_slices, expected_slices;
  for (const json& e : kept) {
    if (e["ph"] == "M") continue;
    EXPECT_TRUE(touches(e)) << e.dump();
    if (e["ph"] == "X") kept_slices.insert(e.dump());
  }
  // ... and it holds exactly the full file's slices that touch the window (lane numbers are
  // assigned the same way in both runs, so the events are identical).
  for (const json& e : all) {
    if (e["ph"] == "X" && touches(e)) expected_slices.insert(e.dump());
  }
  EXPECT_EQ(kept_slices, expected_slices);
  EXPECT_FALSE(kept_slices.empty());
  expect_nesting(kept);
  expect_flows_matched(kept);

  // Counter tracks start at the window's opening with the value the full run had then.
  std::map<std::pair<int64_t, std::string>, json> value_at_lo, first_kept;
  for (const json& e : all) {
    if (e["ph"] == "C" && ns_of(e["ts"]) <= lo) value_at_lo[{e["pid"], e["name"]}] = e["args"];
  }
  for (const json& e : kept) {
    if (e["ph"] != "C") continue;
    const auto key = std::make_pair(e["pid"].get<int64_t>(), e["name"].get<std::string>());
    if (!first_kept.count(key)) {
      EXPECT_EQ(ns_of(e["ts"]), lo) << e.dump();
      first_kept[key] = e["args"];
    }
  }
  EXPECT_EQ(first_kept, value_at_lo);
}

TEST(Timeline, WithoutWatchThereAreNoCounters) {
  const Scenario scenario = parse_scenario(scenario_json(), "test", ".");
  const auto requests = make_requests(30, 1);
  const Recorded r = record(scenario, requests, std::nullopt, /*watch=*/false);
  const json doc = json::parse(r.text);  // kept alive: a range-for over a temporary's member dangles
  for (const json& e : doc["traceEvents"]) EXPECT_NE(e["ph"], "C");
}

// Role flips, failures and node outages arrive through the observer calls; drive them by hand.
TEST(Timeline, FlipsAndFaultsAreInstants) {
  json sj = scenario_json();
  sj["faults"] = json::parse(R"([{"node": "D1", "at_s": 0.002, "for_s": 0.003, "kind": "link-slow", "factor": 0.5},
                                 {"node": "D1", "at_s": 0.004, "kind": "link-down"}])");
  const Scenario scenario = parse_scenario(sj, "test", ".");
  std::ostringstream out;
  Timeline tl(out, scenario);
  auto at = [](int64_t us) { return Time::from_nanos(us * 1000); };
  auto done = [](WorkId id, Time t, WorkState s = WorkState::kCompleted) {
    Completion c;
    c.kind = Completion::Kind::kWorkDone;
    c.time = t;
    c.work = id;
    c.state = s;
    return c;
  };
  tl.on_submit(RoleFlip{WorkId{1}, NodeId{0}, NodeRole::kDecode, true, Duration::millis(1)}, at(100));
  tl.on_completion(done(WorkId{1}, at(1100)));
  tl.on_submit(Transfer{WorkId{2}, RequestId{5}, NodeId{1}, NodeId{3}, 1, 4096, 0, {}, {}}, at(1200));
  tl.on_completion(done(WorkId{2}, at(1300), WorkState::kFailed));
  Completion down;
  down.kind = Completion::Kind::kNodeDown;
  down.time = at(1400);
  down.node = NodeId{2};
  tl.on_completion(down);
  Completion up = down;
  up.kind = Completion::Kind::kNodeUp;
  up.time = at(1900);
  tl.on_completion(up);
  Completion last;
  last.kind = Completion::Kind::kTimer;
  last.time = at(6000);
  tl.on_completion(last);
  tl.finish();

  const json events = json::parse(out.str())["traceEvents"];
  std::multiset<std::string> instants;
  std::map<std::string, json> slices;
  for (const json& e : events) {
    if (e["ph"] == "i") {
      EXPECT_EQ(e["s"], "p");
      instants.insert(std::to_string(e["pid"].get<int>()) + " " + e["name"].get<std::string>());
    }
    if (e["ph"] == "X") slices[e["name"]] = e;
  }
  EXPECT_EQ(instants, (std::multiset<std::string>{"1 role prefill -> decode", "2 transfer failed",
                                                    "4 transfer failed", "3 node down", "3 node up"}));
  ASSERT_TRUE(slices.count("role flip prefill -> decode"));
  EXPECT_EQ(ns_of(slices["role flip prefill -> decode"]["dur"]), 1'000'000);
  ASSERT_TRUE(slices.count("down"));
  EXPECT_EQ(ns_of(slices["down"]["ts"]), 1'400'000);
  EXPECT_EQ(ns_of(slices["down"]["dur"]), 500'000);
  ASSERT_TRUE(slices.count("KV (failed) -> D1"));
  EXPECT_EQ(slices["KV (failed) -> D1"]["args"]["state"], "failed");
  // The link faults come from the scenario: the slow one for its 3 ms, the open-ended one until
  // the last event; they overlap, so they sit on two lanes.
  ASSERT_TRUE(slices.count("link-slow"));
  EXPECT_EQ(ns_of(slices["link-slow"]["dur"]), 3'000'000);
  EXPECT_EQ(slices["link-slow"]["args"]["bandwidth_factor"].get<double>(), 0.5);
  ASSERT_TRUE(slices.count("link-down"));
  EXPECT_EQ(ns_of(slices["link-down"]["ts"]) + ns_of(slices["link-down"]["dur"]), 6'000'000);
  EXPECT_NE(slices["link-slow"]["tid"], slices["link-down"]["tid"]);
  expect_nesting(events);
  expect_flows_matched(events);
}

TEST(Timeline, MicrosecondsAreExact) {
  std::string s;
  append_micros(s, 0);
  s += ' ';
  append_micros(s, 1);
  s += ' ';
  append_micros(s, 3'600'000'000'123);
  s += ' ';
  append_micros(s, -1500);
  EXPECT_EQ(s, "0.000 0.001 3600000000.123 -1.500");
  // What the viewers do with it: llround(us * 1000) gives the nanoseconds back.
  EXPECT_EQ(std::llround(std::stod("3600000000.123") * 1000.0), 3'600'000'000'123);
}

TEST(Timeline, ParsesWindows) {
  TimelineWindow w = parse_timeline_window("10:20.5");
  EXPECT_EQ(w.start, Time::from_nanos(10'000'000'000));
  EXPECT_EQ(w.end, Time::from_nanos(20'500'000'000));
  w = parse_timeline_window("30:");
  EXPECT_EQ(w.start, Time::from_nanos(30'000'000'000));
  EXPECT_EQ(w.end, Time::max());
  w = parse_timeline_window(":0.001");
  EXPECT_EQ(w.start, Time::zero());
  EXPECT_EQ(w.end, Time::from_nanos(1'000'000));
  for (const char* bad : {"", "10", "20:10", "5:5", "a:b", "-1:3", "1:2:3", "1e400:", "nan:1"}) {
    try {
      parse_timeline_window(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.exit_code(), 2);
      EXPECT_NE(std::string(e.what()).find("--timeline-window"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace flowkv::core
