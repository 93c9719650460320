#include "runtime/live/live_backend.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <variant>

#include "core/base/error.h"
#include "core/kv/transfer_plan.h"
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
  uint32_t index = 0;
  std::string name;
  std::unique_ptr<NodeExecutor> exec;
  std::shared_mutex pool_mu;               // shared: iterations and transfers; exclusive: poison
  std::unique_ptr<Transport> transport;    // used by `sender` only
  int32_t down = 0;                        // controller thread only
  int32_t link_down = 0;
  std::vector<double> slow;                // active link-slow factors
  // Last: destroyed first, so no job runs once the executor and transport are gone.
  std::unique_ptr<Worker> compute;
  std::unique_ptr<Worker> sender;
};

struct LiveBackend::Done {
  uint64_t work = 0;
  WorkState state = WorkState::kCompleted;
  Time time;
  std::vector<int32_t> next;  // iterations: the sampled token of each item (-1 when none)
  std::string error;
  std::optional<IterationSample> sample;
};

struct LiveBackend::InFlight {
  Kind kind = Kind::kIteration;
  uint32_t a = 0, b = 0;  // node; transfers: source, destination
  Time deadline;
  // Iterations: (request index, item index) of the items whose sampled token extends the
  // request's sequence.
  std::vector<std::pair<uint64_t, uint32_t>> appends;
};

LiveBackend::LiveBackend(const core::Scenario& scenario, std::span<const core::Request> requests, Device& device,
                         const LiveOptions& options)
    : scenario_(scenario), requests_(requests), device_(device), options_(options),
      start_(std::chrono::steady_clock::now()) {
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
  int64_t pools = 0;
  for (const core::NodeSpec& n : scenario.nodes) pools += n.layout.geometry.pool_bytes();
  const int64_t free = device.free_bytes();
  if (pools > free) {
    char msg[512];
    std::snprintf(msg, sizeof msg,
                  "the KV pools of the %zu nodes take %.2f GB (%lld blocks each of %lld bytes on node %s) but the "
                  "device %s has %.2f GB free after the weights: set kv.num_blocks to a smaller pool",
                  scenario.nodes.size(), static_cast<double>(pools) / 1e9,
                  static_cast<long long>(scenario.nodes[0].layout.geometry.num_blocks),
                  static_cast<long long>(scenario.nodes[0].layout.geometry.block_bytes()),
                  scenario.nodes[0].name.c_str(), device.name().c_str(), static_cast<double>(free) / 1e9);
    core::throw_input_error(msg);
  }
  for (size_t i = 0; i < scenario.nodes.size(); ++i) {
    auto n = std::make_unique<Node>();
    n->index = static_cast<uint32_t>(i);
    n->name = scenario.nodes[i].name;
    n->exec = device.make_node(scenario.nodes[i].layout);
    n->transport = device.make_transport();
    n->compute = std::make_unique<Worker>(n->name + "-compute");
    n->sender = std::make_unique<Worker>(n->name + "-send");
    nodes_.push_back(std::move(n));
  }
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
  // Workers first (they reference the nodes' executors and post to this backend).
  for (auto& n : nodes_) {
    n->compute.reset();
    n->sender.reset();
  }
}

Time LiveBackend::clock() const {
  return Time::from_nanos(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start_).count());
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
    if (nodes_[node]->down > 0) {
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
  Node& node = *nodes_[index];
  if (node.down > 0) {
    ready_.push_back(work_done(it.id, last_, WorkState::kFailed));
    return;
  }
  const int32_t block_size = scenario_.block_size;
  // Everything the worker needs is copied out of the Work now (its spans die with submit()).
  struct ItemPlan {
    core::RequestId request;
    int64_t start = 0, token_offset = 0, num_tokens = 0, block_offset = 0, num_blocks = 0;
    bool sample = false;
  };
  auto items = std::make_shared<std::vector<ItemPlan>>();
  auto token_buf = std::make_shared<std::vector<int32_t>>();
  auto block_buf = std::make_shared<std::vector<int64_t>>();
  items->reserve(it.prefill.size() + it.decode.size());
  InFlight fl;
  fl.kind = Kind::kIteration;
  fl.a = index;
  IterationSample sample;
  sample.node = index;
  auto add = [&](core::RequestId r, int64_t start, int64_t n, std::span<const core::BlockRun> blocks, bool sample_it) {
    const std::vector<int32_t>& seq = tokens_[core::to_int(r)];
    FLOWKV_CHECK(start + n <= static_cast<int64_t>(seq.size()),
                 "request " + std::to_string(core::to_int(r)) + ": tokens past its known sequence");
    ItemPlan p;
    p.request = r;
    p.start = start;
    p.token_offset = static_cast<int64_t>(token_buf->size());
    p.num_tokens = n;
    token_buf->insert(token_buf->end(), seq.begin() + start, seq.begin() + start + n);
    p.block_offset = static_cast<int64_t>(block_buf->size());
    for (const core::BlockRun& run : blocks) {
      for (int64_t b = 0; b < run.count; ++b) block_buf->push_back(int64_t{core::to_int(run.first)} + b);
    }
    p.num_blocks = static_cast<int64_t>(block_buf->size()) - p.block_offset;
    FLOWKV_CHECK(p.num_blocks * block_size >= start + n,
                 "request " + std::to_string(core::to_int(r)) + ": its blocks do not cover its tokens");
    p.sample = sample_it;
    if (sample_it) fl.appends.emplace_back(core::to_int(r), static_cast<uint32_t>(items->size()));
    items->push_back(p);
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
  fl.deadline = now + options_.work_timeout;
  const uint64_t id = core::to_int(it.id);
  in_flight_.emplace(id, std::move(fl));
  ++outstanding_;
  Node* n = &node;
  node.compute->post([this, n, id, items, token_buf, block_buf, sample]() mutable {
    Done done;
    done.work = id;
    sample.started = clock();
    std::vector<ExecItem> exec_items(items->size());
    for (size_t k = 0; k < items->size(); ++k) {
      const ItemPlan& p = (*items)[k];
      exec_items[k].request = p.request;
      exec_items[k].start = p.start;
      exec_items[k].tokens = std::span<const int32_t>(token_buf->data() + p.token_offset, static_cast<size_t>(p.num_tokens));
      exec_items[k].blocks = std::span<const int64_t>(block_buf->data() + p.block_offset, static_cast<size_t>(p.num_blocks));
      exec_items[k].sample = p.sample;
    }
    done.next.assign(items->size(), -1);
    try {
      std::shared_lock<std::shared_mutex> lock(n->pool_mu);
      n->exec->run(exec_items, done.next);
    } catch (const std::exception& e) {
      done.state = WorkState::kFailed;
      done.error = n->name + ": iteration failed: " + e.what();
    }
    sample.finished = clock();
    sample.ok = done.state == WorkState::kCompleted;
    done.sample = sample;
    post_done(std::move(done));
  });
}

void LiveBackend::submit_transfer(const core::Transfer& t) {
  const uint32_t src = core::to_int(t.src), dst = core::to_int(t.dst);
  FLOWKV_CHECK(src < nodes_.size() && dst < nodes_.size(), "transfer between unknown nodes");
  Node& s = *nodes_[src];
  Node& d = *nodes_[dst];
  if (s.down > 0 || d.down > 0 || s.link_down > 0 || d.link_down > 0) {
    ready_.push_back(work_done(t.id, last_, WorkState::kFailed));
    return;
  }
  const core::KvLayout& sl = s.exec->layout();
  const core::KvLayout& dl = d.exec->layout();
  auto copies = std::make_shared<std::vector<core::Copy>>(core::plan_transfer(sl, t.src_blocks, dl, t.dst_blocks, scenario_.transfer));
  std::shared_ptr<std::vector<core::Copy>> gather, scatter;
  int64_t staging_bytes = 0;
  if (scenario_.transfer == core::TransferMode::kPerLayer) {
    gather = std::make_shared<std::vector<core::Copy>>(core::plan_staging(sl, t.src_blocks, true));
    scatter = std::make_shared<std::vector<core::Copy>>(core::plan_staging(dl, t.dst_blocks, false));
    staging_bytes = core::total_blocks(t.src_blocks) * sl.geometry.block_bytes();
  }
  double slow = 1.0;
  for (const double f : s.slow) slow = std::min(slow, f);
  for (const double f : d.slow) slow = std::min(slow, f);
  const Time now = clock();
  InFlight fl;
  fl.kind = Kind::kTransfer;
  fl.a = src;
  fl.b = dst;
  fl.deadline = now + options_.work_timeout;
  const uint64_t id = core::to_int(t.id);
  in_flight_.emplace(id, std::move(fl));
  ++outstanding_;
  const Duration timeout = options_.work_timeout;
  Node* sp = &s;
  Node* dp = &d;
  s.sender->post([this, sp, dp, id, copies, gather, scatter, staging_bytes, slow, timeout]() {
    Done done;
    done.work = id;
    const auto began = std::chrono::steady_clock::now();
    try {
      std::shared_lock<std::shared_mutex> src_lock(sp->pool_mu, std::defer_lock);
      std::shared_lock<std::shared_mutex> dst_lock(dp->pool_mu, std::defer_lock);
      src_lock.lock();
      if (dp != sp) dst_lock.lock();
      Transport& tr = *sp->transport;
      auto run = [&](const std::byte* from, std::byte* to, const std::vector<core::Copy>& plan, const char* what) {
        TransferDesc desc;
        desc.src = from;
        desc.dst = to;
        desc.copies = plan;
        const TransferId tid = tr.submit(std::move(desc));
        const TransferState st = tr.wait(tid, timeout);
        const std::string why = tr.error(tid);
        if (st != TransferState::kPending) tr.release(tid);
        if (st != TransferState::kCompleted) {
          throw core::Error(core::ErrorKind::kRuntime, std::string(what) + " " + to_string(st) + ": " + why);
        }
      };
      if (gather) {
        DeviceBytes src_staging = device_.allocate(staging_bytes);
        DeviceBytes dst_staging = device_.allocate(staging_bytes);
        run(sp->exec->kv_data(), src_staging.get(), *gather, "gather");
        run(src_staging.get(), dst_staging.get(), *copies, "per-layer send");
        run(dst_staging.get(), dp->exec->kv_data(), *scatter, "scatter");
      } else {
        run(sp->exec->kv_data(), dp->exec->kv_data(), *copies, "transfer");
      }
    } catch (const std::exception& e) {
      done.state = WorkState::kFailed;
      done.error = sp->name + " -> " + dp->name + ": " + e.what();
    }
    if (slow < 1.0 && done.state == WorkState::kCompleted) {
      // A link-slow fault: the link carries `slow` of its bandwidth, so the transfer takes 1/slow
      // as long.
      const auto took = std::chrono::steady_clock::now() - began;
      std::this_thread::sleep_for(std::chrono::duration_cast<std::chrono::nanoseconds>(took * (1.0 / slow - 1.0)));
    }
    post_done(std::move(done));
  });
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
  Node& node = *nodes_[n];
  switch (f.kind) {
    case core::FaultKind::kCrash: {
      if (node.down++ > 0) return;
      Completion c;
      c.kind = Completion::Kind::kNodeDown;
      c.time = t;
      c.node = f.node;
      deliver(c);
      fail_in_flight(n, true, t);
      // The pool's contents are gone: whatever reads them before rewriting them must fail the
      // token-equality proof. Runs after the job in progress (its result is discarded).
      Node* np = &node;
      node.compute->post([np] {
        std::unique_lock<std::shared_mutex> lock(np->pool_mu);
        np->exec->poison();
      });
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
  Node& node = *nodes_[core::to_int(f.node)];
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

bool LiveBackend::take_worker_result(Time limit) {
  Done done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_.empty() || done_.front().time > limit) return false;
    done = std::move(done_.front());
    done_.pop_front();
  }
  if (!done.error.empty() && stats_.errors.size() < kMaxErrors) stats_.errors.push_back(done.error);
  auto it = in_flight_.find(done.work);
  if (it == in_flight_.end()) return true;  // failed or timed out already: a late result
  InFlight f = std::move(it->second);
  in_flight_.erase(it);
  --outstanding_;
  if (done.sample) stats_.iterations.push_back(*done.sample);
  if (f.kind == Kind::kIteration && done.state == WorkState::kCompleted) {
    for (const auto& [request, item] : f.appends) {
      const int32_t token = done.next[item];
      FLOWKV_CHECK(token >= 0 && token < scenario_.model.vocab_size, "the executor returned no token for a sampled item");
      tokens_[request].push_back(token);
    }
  }
  deliver(work_done(core::WorkId{done.work}, done.time, done.state));
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
