#include "sim/link_model.h"

#include <cmath>

#include "core/base/error.h"

namespace flowkv::sim {

LinkModel::LinkModel(size_t num_nodes, double bytes_per_s)
    : num_nodes_(num_nodes), capacity_(bytes_per_s * 1e-9), port_factor_(2 * num_nodes, 1.0) {
  FLOWKV_CHECK(bytes_per_s > 0, "link bandwidth must be positive");
}

void LinkModel::set_node_factor(core::Time now, uint32_t node, double factor) {
  FLOWKV_CHECK(node < num_nodes_ && factor > 0, "bad link factor");
  progress_to(now);
  port_factor_[node] = factor;
  port_factor_[num_nodes_ + node] = factor;
  solve(now);
}

void LinkModel::drop_node(core::Time now, uint32_t node, std::vector<uint64_t>& dropped) {
  progress_to(now);
  size_t kept = 0;
  for (size_t i = 0; i < flows_.size(); ++i) {
    const Flow& f = flows_[i];
    if (f.egress == node || f.ingress == num_nodes_ + node) {
      dropped.push_back(f.tag);
    } else {
      flows_[kept++] = f;
    }
  }
  flows_.resize(kept);
  solve(now);
}

void LinkModel::progress_to(core::Time now) {
  const double dt = static_cast<double>((now - last_).ns());
  if (dt > 0) {
    for (Flow& f : flows_) f.remaining -= f.rate * dt;
  }
  last_ = now;
}

void LinkModel::add(core::Time now, uint32_t src, uint32_t dst, int64_t bytes, uint64_t tag) {
  FLOWKV_CHECK(bytes > 0 && src < num_nodes_ && dst < num_nodes_, "bad flow");
  progress_to(now);
  Flow f;
  f.egress = src;
  f.ingress = static_cast<uint32_t>(num_nodes_ + dst);
  f.total = static_cast<double>(bytes);
  f.remaining = f.total;
  f.tag = tag;
  flows_.push_back(f);
  solve(now);
}

void LinkModel::advance(core::Time now, std::vector<uint64_t>& finished) {
  progress_to(now);
  size_t kept = 0;
  for (size_t i = 0; i < flows_.size(); ++i) {
    const Flow& f = flows_[i];
    // Completion times are rounded up to whole nanoseconds, so a due flow is at or just below
    // zero; the tolerance absorbs floating-point error only.
    if (f.remaining <= std::max(1e-3, f.total * 1e-12)) {
      finished.push_back(f.tag);
    } else {
      flows_[kept++] = f;
    }
  }
  flows_.resize(kept);
  // Re-solve even when nothing finished (a flow a hair short of done): the next completion is
  // then strictly in the future, so the backend cannot spin at one instant.
  solve(now);
}

// Max-min fairness by progressive filling: repeatedly find the port whose remaining capacity
// split over its unfixed flows is smallest, and fix those flows at that share.
void LinkModel::solve(core::Time now) {
  ++generation_;
  const size_t ports = 2 * num_nodes_;
  left_.resize(ports);
  for (size_t p = 0; p < ports; ++p) left_[p] = capacity_ * port_factor_[p];
  unfixed_.assign(ports, 0);
  fixed_.assign(flows_.size(), 0);
  for (const Flow& f : flows_) {
    ++unfixed_[f.egress];
    ++unfixed_[f.ingress];
  }
  size_t remaining = flows_.size();
  while (remaining > 0) {
    double best = 0;
    size_t best_port = ports;
    for (size_t p = 0; p < ports; ++p) {
      if (unfixed_[p] == 0) continue;
      const double share = left_[p] / unfixed_[p];
      if (best_port == ports || share < best) {
        best = share;
        best_port = p;
      }
    }
    for (size_t i = 0; i < flows_.size(); ++i) {
      Flow& f = flows_[i];
      if (fixed_[i] || (f.egress != best_port && f.ingress != best_port)) continue;
      fixed_[i] = 1;
      f.rate = best;
      --remaining;
      for (uint32_t p : {f.egress, f.ingress}) {
        left_[p] -= best;
        --unfixed_[p];
      }
    }
  }
  next_.reset();
  for (const Flow& f : flows_) {
    const double ns = std::ceil(std::max(0.0, f.remaining) / f.rate);
    const core::Time t = now + core::Duration::nanos(static_cast<int64_t>(ns));
    if (!next_ || t < *next_) next_ = t;
  }
}

std::vector<double> LinkModel::rates() const {
  std::vector<double> out;
  for (const Flow& f : flows_) out.push_back(f.rate * 1e9);
  return out;
}

}  // namespace flowkv::sim
