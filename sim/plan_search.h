// The search of `flowkv plan` within one family of candidates: one policy, one GPU type and
// tensor-parallel degree per role, every node count that fits the GPU budget. Pure logic, no
// simulation: it proposes the next shape to evaluate and is told whether it was feasible.
//
// A family is a grid of shapes (p, d): p prefill and d decode nodes (a colocated family has one
// column, p = 1 standing for nothing, and d colocated nodes). The search rests on one
// assumption, monotonicity: adding a node of a role never makes a shape miss the target that it
// met. From it:
//   - a rejected (p, d) rejects every (p', d') with p' <= p and d' <= d (dominated: no more
//     nodes of any role);
//   - a feasible (p, d) makes every (p', d') >= it costlier than a known feasible shape;
//   - so the cheapest feasible shape of the family lies on the staircase d*(p) = the fewest
//     decode nodes that meet the target with p prefill nodes, which does not grow with p.
// The search walks that staircase column by column (p = 1, 2, ...): in a column with no known
// feasible shape it gallops upward from the last rejection (d = lo+1, lo+2, lo+4, ...) and then
// bisects; in a later column it gallops downward from the previous column's d* (d*-1, d*-2,
// d*-4, ...) and bisects. Shapes costlier than the best feasible shape found so far in any
// family (`best_cost`, updated between waves) are never evaluated; the family ends when its
// cheapest remaining shape, (p, 1), costs more than that or p runs out.
//
// Every shape of the family ends up evaluated, dominated by an evaluated rejected shape, or
// costlier than `best_cost` (tests/sim/plan_search_test.cc checks it against the full grid on
// random monotone families). Deterministic: the probes depend only on the answers and on the
// best_cost values given.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

namespace flowkv::sim {

// A shape of a family: p prefill nodes (1 in a colocated family) and d decode (or colocated) nodes.
struct Shape {
  int p = 1;
  int d = 1;
  bool operator==(const Shape&) const = default;
};

class FamilySearch {
 public:
  // cost(p, d) must grow strictly with p and with d; max_d(p) is the largest d that fits the
  // budget with p (0 when none), non-increasing in p. max_p columns (1 for a colocated family).
  FamilySearch(int max_p, std::vector<int> max_d, std::vector<std::vector<int64_t>> cost);

  // The next shape to evaluate when no shape costing more than `best_cost` matters, or nullopt
  // when the family is done. Call report() with its answer before asking again.
  std::optional<Shape> next(int64_t best_cost);
  void report(Shape s, bool feasible);
  bool done() const { return done_; }

  int64_t cost(Shape s) const { return cost_[s.p][s.d]; }
  int max_p() const { return max_p_; }
  int max_d(int p) const { return max_d_[p]; }

 private:
  enum class Mode { kUp, kDown, kBisect };
  void next_column();

  int max_p_;
  std::vector<int> max_d_;                 // [p], index 0 unused
  std::vector<std::vector<int64_t>> cost_;  // [p][d]
  int p_ = 1;
  int lo_ = 0;                              // highest rejected d of this column (0: none)
  int up_ = std::numeric_limits<int>::max();  // lowest d known feasible in this or an earlier column
  Mode mode_ = Mode::kUp;
  int step_ = 1;                            // galloping offset
  bool pending_ = false;
  bool done_ = false;
};

}  // namespace flowkv::sim
