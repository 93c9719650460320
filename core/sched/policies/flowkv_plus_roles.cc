// "flowkv-plus" role controller (ours, beyond the paper): role flips sized by measured pool
// pressure, with hysteresis.
//
// Every period it measures each pool's pressure
//   prefill pressure = max(EWMA of the prefill pool's measured busy fraction over the period,
//                          mean prefill load)            (busy fraction: LoadSnapshot::busy_time)
//   decode pressure  = EWMA of the mean decode load
// (loads as in core/sched/cost_estimate.h). A busy prefill pool whose queue is still short is caught by
// its utilisation before its TTFT suffers; the queue term catches what utilisation cannot show
// (a pool at 100% with a growing queue).
//
//   lend      when one pool's pressure >= `enter` and the other's <= `idle` for `confirm`
//             periods in a row, it flips as many nodes as bring the busy pool's projected
//             pressure (pressure * n / (n + k)) down to `target`, as long as the lending pool's
//             projected pressure stays <= `target` and it keeps `min_pool` nodes; all in one
//             period, rather than one node per period;
//   return    a lent node goes home at once when its home pool's pressure reaches `enter`; else
//             when the pool it serves would stay <= `exit` without it (pressure * n / (n - 1))
//             for `confirm` periods in a row: the gap between `enter` and `exit` is the
//             hysteresis that stops a node from flapping;
//   elastic   as "flowkv": a standby node joins when a pool's pressure >= `overload` and the
//             other pool cannot lend; a joined node leaves when its pool's projected pressure
//             without it stays <= `exit` for `leave_cycles` periods.
//
// Parameters (policies.role): period_s 0.5, enter 0.9, idle 0.5, target 0.7, exit 0.5,
// confirm 2, alpha 0.5 (EWMA weight of the newest period), min_pool 1, overload 1.5,
// leave_cycles 10. A join takes cost_model.node_startup_s.
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
  Duration period = Duration::millis(500);
  double enter = 0.9;
  double idle = 0.5;
  double target = 0.7;
  double exit = 0.5;
  int64_t confirm = 2;
  double alpha = 0.5;
  int64_t min_pool = 1;
  double overload = 1.5;
  int64_t leave_cycles = 10;
};

NodeRole other(NodeRole r) { return r == NodeRole::kPrefill ? NodeRole::kDecode : NodeRole::kPrefill; }
size_t index(NodeRole r) { return r == NodeRole::kPrefill ? 0 : 1; }

class FlowKvPlusRoles final : public RoleController {
 public:
  FlowKvPlusRoles(const Scenario& s, const Params& p) : est_(s), p_(p) {}

  Duration period() const override { return p_.period; }

  void decide(const LoadSnapshot& s, std::vector<RoleChange>& changes) override {
    const PoolView v = PoolView::of(s, est_);
    measure(s, v);
    const std::vector<PoolMember>* pools[2] = {&v.prefill, &v.decode};
    std::set<uint32_t> touched;
    auto size_of = [&](NodeRole r) { return static_cast<double>(pools[index(r)]->size()); };

    // Returns: home pool in need first, else hysteresis on the pool served.
    for (const NodeRole serving : {NodeRole::kPrefill, NodeRole::kDecode}) {
      const NodeRole home = other(serving);
      const double n = size_of(serving);
      const bool home_needs = pressure_[index(home)] >= p_.enter;
      const bool fine_without = n > 1 && pressure_[index(serving)] * n / (n - 1) <= p_.exit;
      return_streak_[index(serving)] = fine_without ? return_streak_[index(serving)] + 1 : 0;
      if (!home_needs && return_streak_[index(serving)] < p_.confirm) continue;
      // The lent node with the least work of the role it serves goes home.
      std::optional<PoolMember> back;
      for (const PoolMember& m : *pools[index(serving)]) {
        auto it = loans_.find(to_int(m.id));
        if (it == loans_.end() || it->second != home || m.flipping) continue;
        if (!back || m.load < back->load) back = m;
      }
      if (back && static_cast<int64_t>(n) > p_.min_pool) {
        changes.push_back(RoleChange{back->id, home, true, std::nullopt});
        touched.insert(to_int(back->id));
        loans_.erase(to_int(back->id));
        return_streak_[index(serving)] = 0;
      }
    }

    // Lending, sized to the imbalance.
    for (const NodeRole busy : {NodeRole::kPrefill, NodeRole::kDecode}) {
      const NodeRole idle = other(busy);
      const bool imbalanced = pressure_[index(busy)] >= p_.enter && pressure_[index(idle)] <= p_.idle;
      lend_streak_[index(busy)] = imbalanced ? lend_streak_[index(busy)] + 1 : 0;
      if (lend_streak_[index(busy)] < p_.confirm) continue;
      std::vector<PoolMember> lenders;
      for (const PoolMember& m : *pools[index(idle)]) {
        if (!m.flipping && !touched.count(to_int(m.id))) lenders.push_back(m);
      }
      std::sort(lenders.begin(), lenders.end(), [](const PoolMember& a, const PoolMember& b) {
        return a.load != b.load ? a.load < b.load : to_int(a.id) < to_int(b.id);
      });
      const double nb = size_of(busy), ni = size_of(idle);
      const int64_t spare = PoolView::available(*pools[index(idle)]) - p_.min_pool;
      int64_t k = 0;
      while (k < spare && k < static_cast<int64_t>(lenders.size())) {
        const double kk = static_cast<double>(k + 1);
        if (pressure_[index(idle)] * ni / (ni - kk) > p_.target && k > 0) break;
        ++k;
        if (pressure_[index(busy)] * nb / (nb + kk) <= p_.target) break;
      }
      for (int64_t i = 0; i < k; ++i) {
        const NodeId id = lenders[static_cast<size_t>(i)].id;
        changes.push_back(RoleChange{id, busy, true, std::nullopt});
        touched.insert(to_int(id));
        loans_[to_int(id)] = idle;
      }
      if (k > 0) lend_streak_[index(busy)] = 0;
    }

    // Elastic scaling.
    for (const NodeRole role : {NodeRole::kPrefill, NodeRole::kDecode}) {
      const NodeRole o = other(role);
      const bool lend_possible = pressure_[index(o)] <= p_.idle && PoolView::available(*pools[index(o)]) > p_.min_pool;
      if (pressure_[index(role)] >= p_.overload && !lend_possible) {
        for (const PoolMember& m : role == NodeRole::kPrefill ? v.standby_prefill : v.standby_decode) {
          if (m.flipping || touched.count(to_int(m.id))) continue;
          changes.push_back(RoleChange{m.id, role, true, std::nullopt});
          touched.insert(to_int(m.id));
          joined_.insert(to_int(m.id));
          break;
        }
      }
      const double n = size_of(role);
      const bool can_shrink = n > 1 && pressure_[index(role)] * n / (n - 1) <= p_.exit;
      leave_streak_[index(role)] = can_shrink ? leave_streak_[index(role)] + 1 : 0;
      if (leave_streak_[index(role)] < p_.leave_cycles || static_cast<int64_t>(n) <= p_.min_pool) continue;
      for (const PoolMember& m : *pools[index(role)]) {
        if (!joined_.count(to_int(m.id)) || m.flipping || touched.count(to_int(m.id))) continue;
        changes.push_back(RoleChange{m.id, role, false, std::nullopt});
        touched.insert(to_int(m.id));
        joined_.erase(to_int(m.id));
        loans_.erase(to_int(m.id));
        leave_streak_[index(role)] = 0;
        break;
      }
    }
  }

 private:
  void measure(const LoadSnapshot& s, const PoolView& v) {
    if (last_busy_.size() != s.nodes.size()) last_busy_.assign(s.nodes.size(), Duration::zero());
    double busy = 0;
    for (const PoolMember& m : v.prefill) {
      const Duration b = s.nodes[to_int(m.id)].busy_time;
      busy += std::clamp((b - last_busy_[to_int(m.id)]).seconds() / p_.period.seconds(), 0.0, 1.0);
    }
    for (const NodeLoad& n : s.nodes) last_busy_[to_int(n.id)] = n.busy_time;
    const double util = v.prefill.empty() ? 0.0 : busy / static_cast<double>(v.prefill.size());
    util_ = first_ ? util : p_.alpha * util + (1 - p_.alpha) * util_;
    decode_ = first_ ? v.decode_load : p_.alpha * v.decode_load + (1 - p_.alpha) * decode_;
    first_ = false;
    pressure_[0] = std::max(util_, v.prefill_load);
    pressure_[1] = decode_;
  }

  CostEstimator est_;
  Params p_;
  bool first_ = true;
  double util_ = 0, decode_ = 0;
  double pressure_[2] = {0, 0};
  int64_t lend_streak_[2] = {0, 0};
  int64_t return_streak_[2] = {0, 0};
  int64_t leave_streak_[2] = {0, 0};
  std::vector<Duration> last_busy_;
  std::map<uint32_t, NodeRole> loans_;  // lent node -> home role
  std::set<uint32_t> joined_;
};

std::unique_ptr<RoleController> make(const PolicyContext& c) {
  const std::string& path = c.json_path;
  jcheck::check_object(c.params, path, {"period_s", "enter", "idle", "target", "exit", "confirm", "alpha", "min_pool",
                                        "overload", "leave_cycles"});
  Params p;
  auto get = [&](const char* key) { return jcheck::member(c.params, key); };
  if (const auto* v = get("period_s")) p.period = Duration::from_seconds(jcheck::number_in(*v, path + ".period_s", 1e-3, 3600));
  if (const auto* v = get("enter")) p.enter = jcheck::positive(*v, path + ".enter");
  if (const auto* v = get("idle")) p.idle = jcheck::non_negative(*v, path + ".idle");
  if (const auto* v = get("target")) p.target = jcheck::positive(*v, path + ".target");
  if (const auto* v = get("exit")) p.exit = jcheck::non_negative(*v, path + ".exit");
  if (const auto* v = get("confirm")) p.confirm = jcheck::integer(*v, path + ".confirm", 1);
  if (const auto* v = get("alpha")) p.alpha = jcheck::number_in(*v, path + ".alpha", 1e-3, 1.0);
  if (const auto* v = get("min_pool")) p.min_pool = jcheck::integer(*v, path + ".min_pool", 1);
  if (const auto* v = get("overload")) p.overload = jcheck::positive(*v, path + ".overload");
  if (const auto* v = get("leave_cycles")) p.leave_cycles = jcheck::integer(*v, path + ".leave_cycles", 1);
  if (!(p.exit < p.target && p.target < p.enter)) {
    jcheck::fail(path, "exit < target < enter (the hysteresis band)",
                 nlohmann::json{{"exit", p.exit}, {"target", p.target}, {"enter", p.enter}});
  }
  return std::make_unique<FlowKvPlusRoles>(c.scenario, p);
}

FLOWKV_REGISTER_ROLE_CONTROLLER("flowkv-plus", "ours: flips sized by measured pool pressure, with hysteresis", make);

}  // namespace
}  // namespace flowkv::core
