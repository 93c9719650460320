#include "runtime/live/live_backend.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <variant>

#include "core/base/error.h"
#include "core/kv/transfer_plan.h"
#include "runtime/live/local_node_host.h"
#include "runtime/live/token_source.h"
#include "runtime/transport.h"

namespace flowkv::runtime {

using core::Completion;
using core::Duration;
using core::Time;
using core::WorkState;

namespace {

constexpr uint8_t kWhatTimer = 0, kWhatFlipEnd = 1, kWhatFaultStart = 2, kWhatFaultEnd = 3;
constexpr size_t kMaxErrors = 20;

Completion work_done(core::WorkId id, Time t, WorkState state) {
  Completion c;
  c.kind = Completion::Kind::kWorkDone;
  c.time = t;
  c.work = id;
  c.state = state;
  return c;
}

}  // namespace

struct LiveBackend::Node {
  std::string name;
  int32_t down = 0;          // crashes in progress, plus one for good when lost
  bool lost = false;
  int32_t link_down = 0;
  std::vector<double> slow;  // active link-slow factors
};

struct LiveBackend::Done {
  JobResult result;
  Time time;
  std::optional<uint32_t> lost_node;  // set: not a result, node lost (result.error says why)
};

struct LiveBackend::InFlight {
  Kind kind = Kind::kIteration;
  uint32_t a = 0, b = 0;  // node; transfers: source, destination
  Time submitted;
  Time deadline;
  // Iterations: (request index, item index) of the items whose sampled token extends the
  // request's sequence, and the sample the result completes.
  std::vector<std::pair<uint64_t, uint32_t>> appends;
  std::optional<IterationSample> sample;
};

LiveBackend::LiveBackend(const core::Scenario& scenario, std::span<const core::Request> requests, Device& device,
                         const LiveOptions& options)
    : LiveBackend(scenario, requests,
                  [&](NodeHost::Listener& listener) {
                    LocalNodeHostOptions o;
                    o.work_timeout = options.work_timeout;
                    return std::make_unique<LocalNodeHost>(scenario, device, listener, std::move(o));
                  },
                  options) {}

LiveBackend::LiveBackend(const core::Scenario& scenario, std::span<const core::Request> requests,
                         const NodeHostFactory& make_host, const LiveOptions& options)
    : scenario_(scenario), requests_(requests), options_(options), start_(std::chrono::steady_clock::now()) {
  if (!(options_.time_scale > 0)) core::throw_input_error("--time-scale: expected a positive number");
  scaled_.reserve(requests.size());
  tokens_.resize(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    const core::Request& r = requests[i];
    FLOWKV_CHECK(core::to_int(r.id) == i, "live runs need request ids 0..n-1 in arrival order");
    FLOWKV_CHECK(i == 0 || r.arrival >= requests[i - 1].arrival, "requests out of arrival order");
    core::Request s;
    s.id = r.id;
    s.arrival = Time::from_nanos(static_cast<int64_t>(static_cast<double>(r.arrival.ns()) / options_.time_scale));
    s.prompt_tokens = r.prompt_tokens;
    s.output_tokens = r.output_tokens;
    s.prefix_hashes = r.prefix_hashes;
    s.slo_class = r.slo_class;
    scaled_.push_back(std::move(s));
    std::vector<int32_t>& t = tokens_[i];
    t = prompt_tokens(r, scenario.model.vocab_size, scenario.seed);
    t.reserve(static_cast<size_t>(r.prompt_tokens + r.output_tokens + 1));
  }
  nodes_.resize(scenario.nodes.size());
  for (size_t i = 0; i < scenario.nodes.size(); ++i) nodes_[i].name = scenario.nodes[i].name;
  host_ = make_host(*this);
  // Time starts once the nodes are built (weights, pools, other ranks ready): arrivals are not
  // late because of it.
  start_ = std::chrono::steady_clock::now();
  for (size_t i = 0; i < scenario.faults.size(); ++i) {
    const core::FaultSpec& f = scenario.faults[i];
    FLOWKV_CHECK(core::to_int(f.node) < nodes_.size(), "fault on an unknown node");
    const auto scale = [&](int64_t ns) { return static_cast<int64_t>(static_cast<double>(ns) / options_.time_scale); };
    const Time at = Time::from_nanos(scale(f.at.ns()));
    timed_.push(Timed{at, timed_seq_++, i, kWhatFaultStart});
    if (f.duration) timed_.push(Timed{at + Duration::nanos(scale(f.duration->ns())), timed_seq_++, i, kWhatFaultEnd});
  }
}

LiveBackend::~LiveBackend() {
  // The host first: its workers post to this backend.
  host_.reset();
}

Time LiveBackend::clock() const {
  return Time::from_nanos(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start_).count());
}

void LiveBackend::on_result(JobResult result) {
  Done d;
  d.result = std::move(result);
  post_done(std::move(d));
}

void LiveBackend::on_node_lost(uint32_t node, std::string why) {
  Done d;
  d.lost_node = node;
  d.result.error = std::move(why);
  post_done(std::move(d));
}

void LiveBackend::post_done(Done done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    done.time = clock();  // under the lock: the queue stays in time order
    done_.push_back(std::move(done));
  }
  cv_.notify_one();
}

// ---- submissions ----

void LiveBackend::submit(const core::Work& work) {
  if (const auto* it = std::get_if<core::Iteration>(&work)) {
    submit_iteration(*it);
  } else if (const auto* t = std::get_if<core::Transfer>(&work)) {
    submit_transfer(*t);
  } else if (const auto* f = std::get_if<core::RoleFlip>(&work)) {
    const uint32_t node = core::to_int(f->node);
    FLOWKV_CHECK(node < nodes_.size(), "role flip on an unknown node");
    if (nodes_[node].down > 0) {
      ready_.push_back(work_done(f->id, last_, WorkState::kFailed));
      return;
    }
    InFlight fl;
    fl.kind = Kind::kFlip;
    fl.a = node;
    fl.deadline = Time::from_nanos(INT64_MAX);
    in_flight_.emplace(core::to_int(f->id), std::move(fl));
    ++outstanding_;
    timed_.push(Timed{clock() + f->cost, timed_seq_++, core::to_int(f->id), kWhatFlipEnd});
  } else if (const auto* tm = std::get_if<core::Timer>(&work)) {
    timed_.push(Timed{clock() + tm->delay, timed_seq_++, core::to_int(tm->id), kWhatTimer});
  }
}

void LiveBackend::submit_iteration(const core::Iteration& it) {
  const uint32_t index = core::to_int(it.node);
  FLOWKV_CHECK(index < nodes_.size(), "iteration on an unknown node");
  if (nodes_[index].down > 0) {
    ready_.push_back(work_done(it.id, last_, WorkState::kFailed));
    return;
  }
  const auto began = std::chrono::steady_clock::now();
  const int32_t block_size = scenario_.block_size;
  // Everything the host needs is copied out of the Work now (its spans die with submit()).
  IterationJob job;
  job.work = core::to_int(it.id);
  job.node = index;
  job.items.reserve(it.prefill.size() + it.decode.size());
  InFlight fl;
  fl.kind = Kind::kIteration;
  fl.a = index;
  IterationSample sample;
  sample.node = index;
  auto add = [&](core::RequestId r, int64_t start, int64_t n, std::span<const core::BlockRun> blocks, bool sample_it) {
    const std::vector<int32_t>& seq = tokens_[core::to_int(r)];
    FLOWKV_CHECK(start + n <= static_cast<int64_t>(seq.size()),
                 "request " + std::to_string(core::to_int(r)) + ": tokens past its known sequence");
    IterationJob::Item p;
    p.request = core::to_int(r);
    p.start = start;
    p.num_tokens = n;
    job.tokens.insert(job.tokens.end(), seq.begin() + start, seq.begin() + start + n);
    const auto block_offset = static_cast<int64_t>(job.blocks.size());
    for (const core::BlockRun& run : blocks) {
      for (int64_t b = 0; b < run.count; ++b) job.blocks.push_back(int64_t{core::to_int(run.first)} + b);
    }
    p.num_blocks = static_cast<int64_t>(job.blocks.size()) - block_offset;
    FLOWKV_CHECK(p.num_blocks * block_size >= start + n,
                 "request " + std::to_string(core::to_int(r)) + ": its blocks do not cover its tokens");
    p.sample = sample_it;
    if (sample_it) fl.appends.emplace_back(core::to_int(r), static_cast<uint32_t>(job.items.size()));
    job.items.push_back(p);
  };
  for (const core::PrefillItem& p : it.prefill) {
    const auto known = static_cast<int64_t>(tokens_[core::to_int(p.request)].size());
    // The chunk that reaches the end of the known sequence yields the next token.
    add(p.request, p.context_tokens, p.num_tokens, p.blocks, p.context_tokens + p.num_tokens == known);
    sample.prefill_tokens += p.num_tokens;
    sample.prefill_context += p.context_tokens;
    sample.attention_pairs += p.num_tokens * p.context_tokens + p.num_tokens * (p.num_tokens + 1) / 2;
  }
  sample.prefill_items = static_cast<int64_t>(it.prefill.size());
  for (const core::DecodeItem& d : it.decode) {
    FLOWKV_CHECK(static_cast<int64_t>(tokens_[core::to_int(d.request)].size()) == d.context_tokens + 1,
                 "request " + std::to_string(core::to_int(d.request)) + ": a decode step out of step with its tokens");
    add(d.request, d.context_tokens, 1, d.blocks, true);
    sample.decode_context += d.context_tokens;
  }
  sample.decode_items = static_cast<int64_t>(it.decode.size());
  const Time now = clock();
  sample.submitted = now;
  fl.submitted = now;
  fl.deadline = now + options_.work_timeout;
  fl.sample = sample;
  in_flight_.emplace(job.work, std::move(fl));
  ++outstanding_;
  host_->run_iteration(std::move(job));
  stats_.submit_time += Duration::nanos(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - began).count());
}

void LiveBackend::submit_transfer(const core::Transfer& t) {
  const uint32_t src = core::to_int(t.src), dst = core::to_int(t.dst);
  FLOWKV_CHECK(src < nodes_.size() && dst < nodes_.size(), "transfer between unknown nodes");
  const Node& s = nodes_[src];
  const Node& d = nodes_[dst];
  if (s.down > 0 || d.down > 0 || s.link_down > 0 || d.link_down > 0) {
    ready_.push_back(work_done(t.id, last_, WorkState::kFailed));
    return;
  }
  const auto began = std::chrono::steady_clock::now();
  TransferJob job;
  job.work = core::to_int(t.id);
  job.src = src;
  job.dst = dst;
  job.src_blocks.assign(t.src_blocks.begin(), t.src_blocks.end());
  job.dst_blocks.assign(t.dst_blocks.begin(), t.dst_blocks.end());
  for (const double f : s.slow) job.slow = std::min(job.slow, f);
  for (const double f : d.slow) job.slow = std::min(job.slow, f);
  const Time now = clock();
  InFlight fl;
  fl.kind = Kind::kTransfer;
  fl.a = src;
  fl.b = dst;
  fl.submitted = now;
  fl.deadline = now + options_.work_timeout;
  in_flight_.emplace(job.work, std::move(fl));
  ++outstanding_;
  host_->run_transfer(std::move(job));
  stats_.submit_time += Duration::nanos(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - began).count());
}

// ---- completions ----

void LiveBackend::deliver(Completion c) {
  if (c.time < last_) c.time = last_;
  last_ = c.time;
  ++events_;
  ready_.push_back(c);
}

Time LiveBackend::next_due() const {
  Time due = Time::from_nanos(INT64_MAX);
  if (next_arrival_ < scaled_.size()) due = scaled_[next_arrival_].arrival;
  if (!timed_.empty()) due = std::min(due, timed_.top().due);
  return due;
}

void LiveBackend::expire_deadlines(Time now) {
  std::vector<uint64_t> expired;
  for (const auto& [id, f] : in_flight_) {
    if (f.deadline <= now) expired.push_back(id);
  }
  std::sort(expired.begin(), expired.end());
  for (const uint64_t id : expired) {
    in_flight_.erase(id);
    --outstanding_;
    ++stats_.timed_out;
    deliver(work_done(core::WorkId{id}, now, WorkState::kTimedOut));
  }
}

void LiveBackend::fail_in_flight(uint32_t node, bool iterations_too, Time t) {
  std::vector<uint64_t> hit;
  for (const auto& [id, f] : in_flight_) {
    const bool touches = f.kind == Kind::kTransfer ? (f.a == node || f.b == node) : (iterations_too && f.a == node);
    if (touches) hit.push_back(id);
  }
  std::sort(hit.begin(), hit.end());
  for (const uint64_t id : hit) {
    in_flight_.erase(id);
    --outstanding_;
    deliver(work_done(core::WorkId{id}, t, WorkState::kFailed));
  }
}

void LiveBackend::start_fault(size_t index, Time t) {
  const core::FaultSpec& f = scenario_.faults[index];
  const uint32_t n = core::to_int(f.node);
  Node& node = nodes_[n];
  switch (f.kind) {
    case core::FaultKind::kCrash: {
      if (node.down++ > 0) return;
      Completion c;
      c.kind = Completion::Kind::kNodeDown;
      c.time = t;
      c.node = f.node;
      deliver(c);
      fail_in_flight(n, true, t);
      // Its KV is gone (the host poisons the pool after the job in progress, whose result is
      // discarded).
      host_->crash(n);
      return;
    }
    case core::FaultKind::kLinkDown:
      ++node.link_down;
      fail_in_flight(n, false, t);
      return;
    case core::FaultKind::kLinkSlow:
      node.slow.push_back(f.factor);
      return;
  }
}

void LiveBackend::end_fault(size_t index, Time t) {
  const core::FaultSpec& f = scenario_.faults[index];
  Node& node = nodes_[core::to_int(f.node)];
  switch (f.kind) {
    case core::FaultKind::kCrash:
      if (--node.down == 0) {
        Completion c;
        c.kind = Completion::Kind::kNodeUp;
        c.time = t;
        c.node = f.node;
        deliver(c);
      }
      return;
    case core::FaultKind::kLinkDown:
      --node.link_down;
      return;
    case core::FaultKind::kLinkSlow: {
      auto it = std::find(node.slow.begin(), node.slow.end(), f.factor);
      if (it != node.slow.end()) node.slow.erase(it);
      return;
    }
  }
}

void LiveBackend::lose_node(uint32_t n, const std::string& why, Time t) {
  Node& node = nodes_[n];
  if (node.lost) return;
  node.lost = true;
  stats_.lost.push_back(node.name + ": " + why);
  if (stats_.errors.size() < kMaxErrors) stats_.errors.push_back(node.name + " lost: " + why);
  if (node.down++ > 0) return;  // down already (a crash in progress): it just never comes back
  Completion c;
  c.kind = Completion::Kind::kNodeDown;
  c.time = t;
  c.node = core::NodeId{n};
  deliver(c);
  fail_in_flight(n, true, t);
}

bool LiveBackend::take_worker_result(Time limit) {
  Done done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_.empty() || done_.front().time > limit) return false;
    done = std::move(done_.front());
    done_.pop_front();
  }
  if (done.lost_node) {
    lose_node(*done.lost_node, done.result.error, done.time);
    return true;
  }
  JobResult& r = done.result;
  if (!r.error.empty() && stats_.errors.size() < kMaxErrors) stats_.errors.push_back(r.error);
  auto it = in_flight_.find(r.work);
  if (it == in_flight_.end()) return true;  // failed or timed out already: a late result
  InFlight f = std::move(it->second);
  in_flight_.erase(it);
  --outstanding_;
  if (f.sample) {
    IterationSample& s = *f.sample;
    s.finished = done.time;
    s.started = std::max(s.submitted, done.time - r.ran);
    s.ok = r.state == WorkState::kCompleted;
    stats_.iterations.push_back(s);
    stats_.dispatch_overhead += std::max(Duration::zero(), (done.time - f.submitted) - r.queued - r.ran);
    ++stats_.dispatched;
  }
  if (f.kind == Kind::kIteration && r.state == WorkState::kCompleted) {
    FLOWKV_CHECK(r.next.size() >= f.appends.size(), "an iteration result with fewer tokens than items");
    for (const auto& [request, item] : f.appends) {
      FLOWKV_CHECK(item < r.next.size(), "an iteration result with fewer tokens than items");
      const int32_t token = r.next[item];
      FLOWKV_CHECK(token >= 0 && token < scenario_.model.vocab_size, "the executor returned no token for a sampled item");
      tokens_[request].push_back(token);
    }
  }
  deliver(work_done(core::WorkId{r.work}, done.time, r.state));
  return true;
}

std::optional<Completion> LiveBackend::next() {
  if (returned_at_) stats_.controller_busy += Duration::nanos(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - *returned_at_).count());
  auto give = [&]() {
    Completion c = ready_.front();
    ready_.pop_front();
    returned_at_ = std::chrono::steady_clock::now();
    return std::optional<Completion>(c);
  };
  for (;;) {
    if (!ready_.empty()) return give();
    const Time now = clock();
    expire_deadlines(now);
    if (!ready_.empty()) continue;
    const Time due = next_due();
    // A worker result that happened before the next due event goes first.
    if (take_worker_result(std::min(due, now))) continue;
    if (due <= now) {
      if (next_arrival_ < scaled_.size() && scaled_[next_arrival_].arrival == due &&
          (timed_.empty() || timed_.top().due >= due)) {
        const core::Request& r = scaled_[next_arrival_++];
        const Duration lag = now - r.arrival;
        if (lag > Duration::millis(1)) ++stats_.arrivals_late;
        stats_.max_arrival_lag = std::max(stats_.max_arrival_lag, lag);
        Completion c;
        c.kind = Completion::Kind::kArrival;
        c.time = r.arrival;
        c.request = &r;
        deliver(c);
        continue;
      }
      const Timed t = timed_.top();
      timed_.pop();
      switch (t.what) {
        case kWhatTimer: {
          Completion c;
          c.kind = Completion::Kind::kTimer;
          c.time = t.due;
          c.work = core::WorkId{t.work};
          deliver(c);
          break;
        }
        case kWhatFlipEnd:
          if (in_flight_.erase(t.work) > 0) {
            --outstanding_;
            deliver(work_done(core::WorkId{t.work}, t.due, WorkState::kCompleted));
          }
          break;
        case kWhatFaultStart:
          start_fault(static_cast<size_t>(t.work), t.due);
          break;
        case kWhatFaultEnd:
          end_fault(static_cast<size_t>(t.work), t.due);
          break;
      }
      continue;
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (!done_.empty()) continue;
    if (next_arrival_ >= scaled_.size() && outstanding_ == 0) return std::nullopt;
    Time wake = due;
    for (const auto& [id, f] : in_flight_) wake = std::min(wake, f.deadline);
    const auto until = start_ + std::chrono::nanoseconds(std::min<int64_t>(wake.ns(), clock().ns() + 1'000'000'000));
    cv_.wait_until(lock, until, [this] { return !done_.empty(); });
  }
}

}  // namespace flowkv::runtime
