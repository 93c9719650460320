// The planner's per-family search (sim/plan_search.h) on random monotone families, against the
// full grid. Invariants protected: on a family where adding a node never breaks feasibility,
// the search finds the cheapest feasible shape of the grid; every shape it did not evaluate is
// dominated by an evaluated rejected shape or costs more than the cheapest feasible one; it
// never evaluates a shape twice.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <set>
#include <vector>

#include "sim/plan_search.h"

namespace {

using flowkv::sim::FamilySearch;
using flowkv::sim::Shape;

struct Family {
  int max_p = 0;
  std::vector<int> max_d;
  std::vector<std::vector<int64_t>> cost;
  std::vector<int> staircase;  // [p]: fewest d feasible with p (max_d + 1: none)
  bool feasible(Shape s) const { return s.d >= staircase[s.p]; }
};

Family random_family(std::mt19937_64& rng, bool colocated) {
  Family f;
  const int budget = 4 + static_cast<int>(rng() % 20);
  const int tp_p = 1 + static_cast<int>(rng() % 2), tp_d = 1 + static_cast<int>(rng() % 3);
  const int64_t price_p = 1 + static_cast<int64_t>(rng() % 5), price_d = 1 + static_cast<int64_t>(rng() % 5);
  f.max_p = colocated ? 1 : std::max(0, (budget - tp_d) / tp_p);
  f.max_d.assign(f.max_p + 1, 0);
  f.cost.assign(f.max_p + 1, {});
  f.staircase.assign(f.max_p + 1, 0);
  int need = 1 + static_cast<int>(rng() % (budget + 2));  // may be unreachable
  for (int p = 1; p <= f.max_p; ++p) {
    f.max_d[p] = colocated ? budget / tp_d : (budget - p * tp_p) / tp_d;
    f.cost[p].assign(f.max_d[p] + 1, 0);
    for (int d = 1; d <= f.max_d[p]; ++d) f.cost[p][d] = (colocated ? 0 : p * tp_p * price_p) + d * tp_d * price_d;
    // Non-increasing in p: more prefill nodes never need more decode nodes.
    if (p > 1 && rng() % 2 == 0) need = std::max(1, need - static_cast<int>(rng() % 4));
    f.staircase[p] = need;
  }
  return f;
}

TEST(PlanSearch, FindsTheCheapestFeasibleShapeOfTheFullGrid) {
  std::mt19937_64 rng(17);
  for (int trial = 0; trial < 3000; ++trial) {
    const Family f = random_family(rng, trial % 5 == 0);
    // A bound from other families, sometimes.
    const int64_t outside = trial % 3 == 0 ? static_cast<int64_t>(rng() % 60) : std::numeric_limits<int64_t>::max();

    int64_t grid_best = std::numeric_limits<int64_t>::max();
    for (int p = 1; p <= f.max_p; ++p) {
      for (int d = 1; d <= f.max_d[p]; ++d) {
        if (f.feasible({p, d})) grid_best = std::min(grid_best, f.cost[p][d]);
      }
    }

    FamilySearch search(f.max_p, f.max_d, f.cost);
    int64_t best = outside;
    std::set<std::pair<int, int>> evaluated, rejected;
    while (const std::optional<Shape> s = search.next(best)) {
      ASSERT_TRUE(evaluated.insert({s->p, s->d}).second) << "trial " << trial << ": evaluated twice";
      ASSERT_LE(f.cost[s->p][s->d], best) << "trial " << trial << ": evaluated a shape costlier than the best";
      const bool ok = f.feasible(*s);
      if (ok) best = std::min(best, f.cost[s->p][s->d]);
      if (!ok) rejected.insert({s->p, s->d});
      search.report(*s, ok);
    }
    EXPECT_EQ(std::min(best, outside), std::min(grid_best, outside)) << "trial " << trial;
    // Every shape not evaluated is dominated by a rejected one or costlier than the best.
    for (int p = 1; p <= f.max_p; ++p) {
      for (int d = 1; d <= f.max_d[p]; ++d) {
        if (evaluated.count({p, d})) continue;
        bool dominated = false;
        for (const auto& [rp, rd] : rejected) dominated = dominated || (p <= rp && d <= rd);
        EXPECT_TRUE(dominated || f.cost[p][d] > best) << "trial " << trial << ": (" << p << ", " << d << ") left open";
      }
    }
  }
}

TEST(PlanSearch, EvaluatesFewShapesOnALargeFamily) {
  // 1..15 prefill x 1..31 decode nodes (32 GPUs): a staircase needing 3 P and 9 D at least.
  Family f;
  f.max_p = 31;
  f.max_d.assign(32, 0);
  f.cost.assign(32, {});
  f.staircase.assign(32, 0);
  for (int p = 1; p <= 31; ++p) {
    f.max_d[p] = 32 - p;
    f.cost[p].assign(f.max_d[p] + 1, 0);
    for (int d = 1; d <= f.max_d[p]; ++d) f.cost[p][d] = 3 * p + 4 * d;
    f.staircase[p] = p < 3 ? 1000 : std::max(9, 14 - p);
  }
  FamilySearch search(f.max_p, f.max_d, f.cost);
  int64_t best = std::numeric_limits<int64_t>::max();
  int evaluations = 0;
  while (const std::optional<Shape> s = search.next(best)) {
    ++evaluations;
    const bool ok = f.feasible(*s);
    if (ok) best = std::min(best, f.cost[s->p][s->d]);
    search.report(*s, ok);
  }
  EXPECT_EQ(best, 3 * 5 + 4 * 9);  // (5, 9)
  EXPECT_LT(evaluations, 40) << "of 496 shapes";
}

}  // namespace
