// "flowkv" role controller: FlowKV's classification of the cluster every period (arXiv
// 2504.03775; the paper publishes no formulas or thresholds, these are ours, documented in
// docs/scheduling.md). With the pool loads of core/sched/pool_view.h (mean prefill load of the
// prefill pool, mean decode load of the decode pool; 1.0 = the pool's queue eats its whole SLO):
//
//   overload   a pool's load >= `overload` and the other pool cannot lend (it is not idle, or is
//              at `min_pool` nodes): one standby node of that role joins per period, after
//              cost_model.node_startup_s of start-up during which it takes nothing;
//   imbalance  one pool's load >= `high` and the other's <= `low`: the least-loaded node of the
//              idle pool serves the busy role (a role flip costing cost_model.role_flip_ms; its
//              one block pool is shared by both sub-schedulers, so no memory moves and it keeps
//              serving what it holds), at most `max_flips` per period, never leaving fewer
//              than `min_pool` nodes in a pool;
//   normal     otherwise.
// A flipped node serves the other role for at least `flip_cycles` periods and returns home at
// the first period after that in which the pool it serves is no longer saturated (< `high`).
// When both pools stay <= `low` for `leave_cycles` periods in a row, one node that joined
// elastically leaves (finishes what it holds, takes nothing new, goes back to standby).
//
// Parameters (policies.role): period_s 1.0, high 0.8, low 0.3, overload 1.5, flip_cycles 5,
// min_pool 1, max_flips 1, leave_cycles 10.
#include <algorithm>
#include <map>
#include <set>

#include "core/base/json_check.h"
#include "core/sched/cost_estimate.h"
#include "core/sched/pool_view.h"
#include "core/sched/role_controller.h"
#include "core/spec/scenario.h"

namespace flowkv::core {
namespace {

struct Params {
  Duration period = Duration::seconds(1);
  double high = 0.8;
  double low = 0.3;
  double overload = 1.5;
  int64_t flip_cycles = 5;
  int64_t min_pool = 1;
  int64_t max_flips = 1;
  int64_t leave_cycles = 10;
};

NodeRole other(NodeRole r) { return r == NodeRole::kPrefill ? NodeRole::kDecode : NodeRole::kPrefill; }

class FlowKvRoles final : public RoleController {
 public:
  FlowKvRoles(const Scenario& s, const Params& p) : est_(s), p_(p) {}

  Duration period() const override { return p_.period; }

  void decide(const LoadSnapshot& s, std::vector<RoleChange>& changes) override {
    ++tick_;
    const PoolView v = PoolView::of(s, est_);
    std::set<uint32_t> touched;
    auto load_of = [&](NodeRole r) { return r == NodeRole::kPrefill ? v.prefill_load : v.decode_load; };
    auto pool_of = [&](NodeRole r) -> const std::vector<PoolMember>& {
      return r == NodeRole::kPrefill ? v.prefill : v.decode;
    };

    // Loans whose term is over come home once the pool they serve is no longer saturated.
    for (auto it = loans_.begin(); it != loans_.end();) {
      const NodeLoad& n = s.nodes[it->first];
      const NodeRole serving = other(it->second.home);
      if (n.role != serving || !n.routable) {  // changed by someone else (a failure): forget
        it = loans_.erase(it);
        continue;
      }
      if (!n.flipping && tick_ - it->second.since >= p_.flip_cycles && load_of(serving) < p_.high &&
          static_cast<int64_t>(pool_of(serving).size()) > p_.min_pool) {
        changes.push_back(RoleChange{n.id, it->second.home, true, std::nullopt});
        touched.insert(it->first);
        it = loans_.erase(it);
        continue;
      }
      ++it;
    }

    // Imbalance: the idle pool lends to the saturated one.
    for (const NodeRole busy : {NodeRole::kPrefill, NodeRole::kDecode}) {
      const NodeRole idle = other(busy);
      if (!(load_of(busy) >= p_.high && load_of(idle) <= p_.low)) continue;
      std::vector<PoolMember> lenders;
      for (const PoolMember& m : pool_of(idle)) {
        if (!m.flipping && !touched.count(to_int(m.id))) lenders.push_back(m);
      }
      std::sort(lenders.begin(), lenders.end(), [](const PoolMember& a, const PoolMember& b) {
        return a.load != b.load ? a.load < b.load : to_int(a.id) < to_int(b.id);
      });
      int64_t left = PoolView::available(pool_of(idle));
      for (int64_t k = 0; k < p_.max_flips && k < static_cast<int64_t>(lenders.size()) && left > p_.min_pool; ++k) {
        const NodeId id = lenders[static_cast<size_t>(k)].id;
        changes.push_back(RoleChange{id, busy, true, std::nullopt});
        touched.insert(to_int(id));
        loans_[to_int(id)] = Loan{idle, tick_};
        --left;
      }
    }

    // Overload: a standby node of the needed role joins when lending cannot help.
    for (const NodeRole role : {NodeRole::kPrefill, NodeRole::kDecode}) {
      const NodeRole o = other(role);
      const bool lend_possible = load_of(o) <= p_.low && PoolView::available(pool_of(o)) > p_.min_pool;
      if (load_of(role) < p_.overload || lend_possible) continue;
      for (const PoolMember& m : role == NodeRole::kPrefill ? v.standby_prefill : v.standby_decode) {
        if (m.flipping || touched.count(to_int(m.id))) continue;
        changes.push_back(RoleChange{m.id, role, true, std::nullopt});
        touched.insert(to_int(m.id));
        joined_.insert(to_int(m.id));
        break;
      }
    }

    // Calm: an elastic node leaves after leave_cycles calm periods.
    calm_ = v.prefill_load <= p_.low && v.decode_load <= p_.low ? calm_ + 1 : 0;
    if (calm_ >= p_.leave_cycles) {
      std::optional<NodeId> leaver;
      for (const uint32_t id : joined_) {
        const NodeLoad& n = s.nodes[id];
        if (!n.routable || n.flipping || touched.count(id)) continue;
        if (static_cast<int64_t>(pool_of(n.role).size()) <= p_.min_pool) continue;
        leaver = n.id;
        break;
      }
      if (leaver) {
        changes.push_back(RoleChange{*leaver, s.nodes[to_int(*leaver)].role, false, std::nullopt});
        joined_.erase(to_int(*leaver));
        loans_.erase(to_int(*leaver));
        calm_ = 0;
      }
    }
  }

 private:
  struct Loan {
    NodeRole home = NodeRole::kDecode;
    int64_t since = 0;
  };
  CostEstimator est_;
  Params p_;
  int64_t tick_ = 0;
  int64_t calm_ = 0;
  std::map<uint32_t, Loan> loans_;
  std::set<uint32_t> joined_;
};

std::unique_ptr<RoleController> make(const PolicyContext& c) {
  const std::string& path = c.json_path;
  jcheck::check_object(c.params, path, {"period_s", "high", "low", "overload", "flip_cycles", "min_pool", "max_flips",
                                        "leave_cycles"});
  Params p;
  auto get = [&](const char* key) { return jcheck::member(c.params, key); };
  if (const auto* v = get("period_s")) p.period = Duration::from_seconds(jcheck::number_in(*v, path + ".period_s", 1e-3, 3600));
  if (const auto* v = get("high")) p.high = jcheck::positive(*v, path + ".high");
  if (const auto* v = get("low")) p.low = jcheck::non_negative(*v, path + ".low");
  if (const auto* v = get("overload")) p.overload = jcheck::positive(*v, path + ".overload");
  if (const auto* v = get("flip_cycles")) p.flip_cycles = jcheck::integer(*v, path + ".flip_cycles", 1);
  if (const auto* v = get("min_pool")) p.min_pool = jcheck::integer(*v, path + ".min_pool", 1);
  if (const auto* v = get("max_flips")) p.max_flips = jcheck::integer(*v, path + ".max_flips", 0);
  if (const auto* v = get("leave_cycles")) p.leave_cycles = jcheck::integer(*v, path + ".leave_cycles", 1);
  if (p.low >= p.high) jcheck::fail(path + ".low", "a value below high (" + std::to_string(p.high) + ")", nlohmann::json(p.low));
  return std::make_unique<FlowKvRoles>(c.scenario, p);
}

FLOWKV_REGISTER_ROLE_CONTROLLER("flowkv", "FlowKV: flip idle nodes to the saturated role, elastic standby nodes under overload", make);

}  // namespace
}  // namespace flowkv::core
