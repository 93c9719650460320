#include "runtime/live/local_node_host.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "core/base/error.h"
#include "core/kv/transfer_plan.h"

namespace flowkv::runtime {

using core::Duration;
using core::WorkState;
using Clock = std::chrono::steady_clock;

namespace {

Duration since(Clock::time_point t) {
  return Duration::nanos(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t).count());
}

// A link-slow fault: the link carries `slow` of its bandwidth, so a transfer that took `took`
// takes took / slow.
void stretch(double slow, Clock::duration took) {
  if (slow < 1.0) {
    std::this_thread::sleep_for(std::chrono::duration_cast<std::chrono::nanoseconds>(took * (1.0 / slow - 1.0)));
  }
}

}  // namespace

struct LocalNodeHost::Node {
  uint32_t index = 0;
  std::string name;
  std::unique_ptr<NodeExecutor> exec;
  std::shared_mutex pool_mu;             // shared: iterations and transfers; exclusive: poison
  std::unique_ptr<Transport> transport;  // used by `sender` only
  // Last: destroyed first, so no job runs once the executor and transport are gone.
  std::unique_ptr<Worker> compute;
  std::unique_ptr<Worker> sender;
};

LocalNodeHost::LocalNodeHost(const core::Scenario& scenario, Device& device, Listener& listener,
                             LocalNodeHostOptions options)
    : scenario_(scenario), device_(device), listener_(listener), options_(std::move(options)) {
  std::vector<uint32_t> hosted = options_.nodes;
  if (hosted.empty()) {
    for (uint32_t i = 0; i < scenario.nodes.size(); ++i) hosted.push_back(i);
  }
  int64_t pools = 0;
  for (const uint32_t i : hosted) {
    FLOWKV_CHECK(i < scenario.nodes.size(), "hosting an unknown node");
    pools += scenario.nodes[i].layout.geometry.pool_bytes();
  }
  const int64_t free = device.free_bytes();
  if (pools > free) {
    const core::NodeSpec& first = scenario.nodes[hosted.front()];
    char msg[512];
    std::snprintf(msg, sizeof msg,
                  "the KV pools of the %zu nodes take %.2f GB (%lld blocks each of %lld bytes on node %s) but the "
                  "device %s has %.2f GB free after the weights: set kv.num_blocks to a smaller pool",
                  hosted.size(), static_cast<double>(pools) / 1e9,
                  static_cast<long long>(first.layout.geometry.num_blocks),
                  static_cast<long long>(first.layout.geometry.block_bytes()), first.name.c_str(),
                  device.name().c_str(), static_cast<double>(free) / 1e9);
    core::throw_input_error(msg);
  }
  nodes_.resize(scenario.nodes.size());
  for (const uint32_t i : hosted) {
    auto n = std::make_unique<Node>();
    n->index = i;
    n->name = scenario.nodes[i].name;
    n->exec = device.make_node(scenario.nodes[i].layout);
    n->transport = device.make_transport();
    n->compute = std::make_unique<Worker>(n->name + "-compute");
    n->sender = std::make_unique<Worker>(n->name + "-send");
    nodes_[i] = std::move(n);
  }
  if (options_.make_peer_transport) link_ = std::make_unique<Worker>("link");
}

LocalNodeHost::~LocalNodeHost() {
  // Workers first (they use the executors and transports, and post to the listener).
  link_.reset();
  for (auto& n : nodes_) {
    if (!n) continue;
    n->compute.reset();
    n->sender.reset();
  }
}

LocalNodeHost::Node& LocalNodeHost::node(uint32_t index, const char* what) {
  FLOWKV_CHECK(hosts(index), std::string(what) + " on node " + std::to_string(index) + ", not hosted here");
  return *nodes_[index];
}

void LocalNodeHost::run_iteration(IterationJob job) {
  Node* n = &node(job.node, "an iteration");
  const auto arrived = Clock::now();
  auto shared = std::make_shared<IterationJob>(std::move(job));
  n->compute->post([this, n, shared, arrived] {
    const IterationJob& j = *shared;
    JobResult r;
    r.work = j.work;
    const auto started = Clock::now();
    r.queued = Duration::nanos(std::chrono::duration_cast<std::chrono::nanoseconds>(started - arrived).count());
    std::vector<ExecItem> items(j.items.size());
    int64_t token_at = 0, block_at = 0;
    for (size_t k = 0; k < j.items.size(); ++k) {
      const IterationJob::Item& p = j.items[k];
      items[k].request = core::RequestId{p.request};
      items[k].start = p.start;
      items[k].tokens = std::span<const int32_t>(j.tokens.data() + token_at, static_cast<size_t>(p.num_tokens));
      items[k].blocks = std::span<const int64_t>(j.blocks.data() + block_at, static_cast<size_t>(p.num_blocks));
      items[k].sample = p.sample;
      token_at += p.num_tokens;
      block_at += p.num_blocks;
    }
    r.next.assign(j.items.size(), -1);
    try {
      FLOWKV_CHECK(token_at == static_cast<int64_t>(j.tokens.size()) && block_at == static_cast<int64_t>(j.blocks.size()),
                   "an iteration job whose items do not cover its tokens and blocks");
      std::shared_lock<std::shared_mutex> lock(n->pool_mu);
      n->exec->run(items, r.next);
    } catch (const std::exception& e) {
      r.state = WorkState::kFailed;
      r.error = n->name + ": iteration failed: " + e.what();
    }
    r.ran = since(started);
    listener_.on_result(std::move(r));
  });
}

void LocalNodeHost::run_transfer(TransferJob job) {
  Node* sp = &node(job.src, "a transfer");
  Node* dp = &node(job.dst, "a transfer");
  const core::KvLayout& sl = sp->exec->layout();
  const core::KvLayout& dl = dp->exec->layout();
  auto copies =
      std::make_shared<std::vector<core::Copy>>(core::plan_transfer(sl, job.src_blocks, dl, job.dst_blocks, scenario_.transfer));
  std::shared_ptr<std::vector<core::Copy>> gather, scatter;
  int64_t staging_bytes = 0;
  if (scenario_.transfer == core::TransferMode::kPerLayer) {
    gather = std::make_shared<std::vector<core::Copy>>(core::plan_staging(sl, job.src_blocks, true));
    scatter = std::make_shared<std::vector<core::Copy>>(core::plan_staging(dl, job.dst_blocks, false));
    staging_bytes = core::total_blocks(job.src_blocks) * sl.geometry.block_bytes();
  }
  const Duration timeout = options_.work_timeout;
  const uint64_t id = job.work;
  const double slow = job.slow;
  sp->sender->post([this, sp, dp, id, copies, gather, scatter, staging_bytes, slow, timeout]() {
    JobResult done;
    done.work = id;
    const auto began = Clock::now();
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
    if (done.state == WorkState::kCompleted) stretch(slow, Clock::now() - began);
    listener_.on_result(std::move(done));
  });
}

void LocalNodeHost::crash(uint32_t index) {
  // The pool's contents are gone: whatever reads them before rewriting them must fail the
  // token-equality proof. Runs after the job in progress.
  Node* n = &node(index, "a crash");
  n->compute->post([n] {
    std::unique_lock<std::shared_mutex> lock(n->pool_mu);
    n->exec->poison();
  });
}

void LocalNodeHost::peer_lost(int rank) {
  std::lock_guard<std::mutex> lock(lost_mu_);
  if (std::find(lost_ranks_.begin(), lost_ranks_.end(), rank) != lost_ranks_.end()) return;
  lost_ranks_.push_back(rank);
  lost_count_.fetch_add(1);
}

void LocalNodeHost::cancel_side(uint64_t work) {
  std::lock_guard<std::mutex> lock(lost_mu_);
  canceled_.push_back(work);
  if (canceled_.size() > 4096) canceled_.erase(canceled_.begin(), canceled_.begin() + 2048);
  lost_count_.fetch_add(1);
}

bool LocalNodeHost::stopped(int peer_rank, uint64_t work, std::string& why) {
  std::lock_guard<std::mutex> lock(lost_mu_);
  if (std::find(lost_ranks_.begin(), lost_ranks_.end(), peer_rank) != lost_ranks_.end()) {
    why = "rank " + std::to_string(peer_rank) + " is lost";
    return true;
  }
  if (std::find(canceled_.begin(), canceled_.end(), work) != canceled_.end()) {
    why = "the other side failed";
    return true;
  }
  return false;
}

void LocalNodeHost::run_transfer_side(TransferJob job, bool send, int peer_rank) {
  FLOWKV_CHECK(link_ != nullptr, "a transfer between ranks in a host without a peer transport");
  Node* n = &node(send ? job.src : job.dst, "a transfer between ranks");
  const core::KvLayout& sl = scenario_.nodes[job.src].layout;
  const core::KvLayout& dl = scenario_.nodes[job.dst].layout;
  auto shared = std::make_shared<TransferJob>(std::move(job));
  const auto deadline = Clock::now() + std::chrono::nanoseconds(options_.work_timeout.ns());
  link_->post([this, n, shared, send, peer_rank, &sl, &dl, deadline] {
    const TransferJob& j = *shared;
    JobResult done;
    done.work = j.work;
    const auto began = Clock::now();
    const char* side = send ? "send" : "receive";
    DeviceBytes staging;
    bool staging_in_use = false;
    try {
      if (!peer_transport_) peer_transport_ = options_.make_peer_transport();
      std::string stop_why;
      if (stopped(peer_rank, j.work, stop_why)) throw core::Error(core::ErrorKind::kRuntime, stop_why);
      const std::vector<core::Copy> copies = core::plan_transfer(sl, j.src_blocks, dl, j.dst_blocks, scenario_.transfer);
      std::shared_lock<std::shared_mutex> lock(n->pool_mu);
      // Runs one plan through `tr`, polling against the job's deadline, the peer's loss and a
      // failure of the other side.
      auto run = [&](Transport& tr, TransferDesc desc, const char* what, bool across) {
        const TransferId tid = tr.submit(std::move(desc));
        int seen = -1;  // look at once: a stop may have come since the check above
        bool stop = false;
        const auto left = std::max<int64_t>(
            0, std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Clock::now()).count());
        TransferState st = poll_until(
            [&] {
              if (across && lost_count_.load() != seen) {
                seen = lost_count_.load();
                if (stopped(peer_rank, j.work, stop_why)) {
                  stop = true;
                  return TransferState::kCanceled;
                }
              }
              return tr.poll(tid);
            },
            Duration::nanos(left));
        std::string why;
        if (stop || st == TransferState::kPending) {
          tr.cancel(tid);
          why = stop ? stop_why : "not complete by its deadline";
          st = stop ? TransferState::kCanceled : TransferState::kTimedOut;
        } else {
          why = tr.error(tid);
        }
        if (tr.poll(tid) != TransferState::kPending) tr.release(tid);
        if (st != TransferState::kCompleted) {
          throw core::Error(core::ErrorKind::kRuntime, std::string(what) + " " + to_string(st) + ": " + why);
        }
      };
      TransferDesc wire;
      wire.copies = copies;
      wire.peer = peer_rank;
      wire.tag = j.work;
      if (scenario_.transfer == core::TransferMode::kPerLayer) {
        const core::KvLayout& own = send ? sl : dl;
        const auto& blocks = send ? j.src_blocks : j.dst_blocks;
        staging = device_.allocate(core::total_blocks(blocks) * own.geometry.block_bytes());
        staging_in_use = true;
        std::unique_ptr<Transport> local = device_.make_transport();
        TransferDesc copy;
        copy.copies = core::plan_staging(own, blocks, send);
        if (send) {
          copy.src = n->exec->kv_data();
          copy.dst = staging.get();
          run(*local, std::move(copy), "gather", false);
          wire.src = staging.get();
          run(*peer_transport_, std::move(wire), "per-layer send", true);
        } else {
          wire.dst = staging.get();
          run(*peer_transport_, std::move(wire), "per-layer receive", true);
          copy.src = staging.get();
          copy.dst = n->exec->kv_data();
          run(*local, std::move(copy), "scatter", false);
        }
        staging_in_use = false;
      } else {
        if (send) {
          wire.src = n->exec->kv_data();
        } else {
          wire.dst = n->exec->kv_data();
        }
        run(*peer_transport_, std::move(wire), side, true);
      }
    } catch (const std::exception& e) {
      done.state = WorkState::kFailed;
      done.error = n->name + " " + side + " (rank " + std::to_string(peer_rank) + "): " + e.what();
    }
    if (staging_in_use && staging) {
      std::lock_guard<std::mutex> lock(graveyard_mu_);
      graveyard_.push_back(std::move(staging));
    }
    if (done.state == WorkState::kCompleted && !send) stretch(shared->slow, Clock::now() - began);
    listener_.on_result(std::move(done));
  });
}

}  // namespace flowkv::runtime
