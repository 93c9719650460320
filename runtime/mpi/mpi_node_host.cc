#include "runtime/mpi/mpi_node_host.h"

#include "core/base/error.h"

namespace flowkv::runtime {

MpiNodeHost::MpiNodeHost(MpiController& controller, const core::Scenario& scenario, const RankLayout& layout,
                         Device* device, std::unique_ptr<Transport> peer_transport, NodeHost::Listener& listener,
                         core::Duration work_timeout)
    : controller_(controller), scenario_(scenario), layout_(layout), listener_(listener) {
  if (layout.hosts_nodes(0)) {
    FLOWKV_CHECK(device != nullptr, "rank 0 hosts nodes but has no device");
    LocalNodeHostOptions o;
    o.work_timeout = work_timeout;
    o.nodes = layout.rank_nodes[0];
    if (peer_transport) {
      auto shared = std::make_shared<std::unique_ptr<Transport>>(std::move(peer_transport));
      o.make_peer_transport = [shared] { return std::move(*shared); };
    }
    NodeHost::Listener& self = *this;
    local_ = std::make_unique<LocalNodeHost>(scenario, *device, self, std::move(o));
    rank0_device_ = device->name();
  }
  controller_.attach(this);
  controller_.wait_ready();
}

MpiNodeHost::~MpiNodeHost() {
  controller_.attach(nullptr);
  local_.reset();
}

std::string MpiNodeHost::device_name() const {
  std::string ranks = controller_.device_names();
  if (!rank0_device_.empty()) ranks = "rank 0: " + rank0_device_ + (ranks.empty() ? "" : "; " + ranks);
  return ranks;
}

void MpiNodeHost::run_iteration(IterationJob job) {
  const int rank = layout_.node_rank[job.node];
  if (rank == 0) {
    local_->run_iteration(std::move(job));
  } else {
    controller_.send(rank, wire::encode(job));
  }
}

void MpiNodeHost::run_transfer(TransferJob job) {
  const int src = layout_.node_rank[job.src], dst = layout_.node_rank[job.dst];
  if (src == dst) {
    if (src == 0) {
      local_->run_transfer(std::move(job));
    } else {
      controller_.send(src, wire::encode(job, -1, -1));
    }
    return;
  }
  {
    std::lock_guard<std::mutex> lock(sides_mu_);
    Sides& s = sides_[job.work];
    s.merged.work = job.work;
    s.ranks[0] = src;
    s.ranks[1] = dst;
  }
  // Both ranks get their side in the controller's order (runtime/live/local_node_host.h).
  if (src == 0) {
    local_->run_transfer_side(job, true, dst);
  } else {
    controller_.send(src, wire::encode(job, 1, dst));
  }
  if (dst == 0) {
    local_->run_transfer_side(std::move(job), false, src);
  } else {
    controller_.send(dst, wire::encode(job, 0, src));
  }
}

void MpiNodeHost::crash(uint32_t node) {
  const int rank = layout_.node_rank[node];
  if (rank == 0) {
    local_->crash(node);
  } else {
    wire::Writer w(wire::Kind::kCrash);
    w.u32(node);
    controller_.send(rank, w.take());
  }
}

void MpiNodeHost::on_result(JobResult result) { on_remote_result(std::move(result)); }

void MpiNodeHost::on_node_lost(uint32_t node, std::string why) { listener_.on_node_lost(node, std::move(why)); }

void MpiNodeHost::cancel_sides(uint64_t work, const int (&ranks)[2]) {
  for (const int r : ranks) {
    if (r == 0) {
      local_->cancel_side(work);
    } else {
      wire::Writer w(wire::Kind::kCancel);
      w.u64(work);
      controller_.send(r, w.take());
    }
  }
}

void MpiNodeHost::on_remote_result(JobResult result) {
  {
    std::unique_lock<std::mutex> lock(sides_mu_);
    auto it = sides_.find(result.work);
    if (it != sides_.end()) {
      Sides& s = it->second;
      const bool first_failure = result.state != core::WorkState::kCompleted && s.merged.state == core::WorkState::kCompleted;
      if (first_failure) {
        s.merged.state = result.state;
        s.merged.error = std::move(result.error);
      } else if (!result.error.empty() && s.merged.error.empty()) {
        s.merged.error = std::move(result.error);
      }
      if (--s.left > 0) {
        if (first_failure) {
          // The other side would wait for it until its deadline.
          const int ranks[2] = {s.ranks[0], s.ranks[1]};
          const uint64_t work = result.work;
          lock.unlock();
          cancel_sides(work, ranks);
        }
        return;
      }
      result = std::move(s.merged);
      sides_.erase(it);
    }
  }
  listener_.on_result(std::move(result));
}

void MpiNodeHost::on_rank_lost(int rank, const std::string& why) {
  if (local_) local_->peer_lost(rank);
  for (const uint32_t n : layout_.rank_nodes[static_cast<size_t>(rank)]) listener_.on_node_lost(n, why);
}

}  // namespace flowkv::runtime
