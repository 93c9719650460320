#include "sim/plan_search.h"

#include <algorithm>

#include "core/base/error.h"

namespace flowkv::sim {

namespace {
constexpr int kNone = std::numeric_limits<int>::max();
}

FamilySearch::FamilySearch(int max_p, std::vector<int> max_d, std::vector<std::vector<int64_t>> cost)
    : max_p_(max_p), max_d_(std::move(max_d)), cost_(std::move(cost)) {
  FLOWKV_CHECK(static_cast<int>(max_d_.size()) == max_p_ + 1 && static_cast<int>(cost_.size()) == max_p_ + 1,
               "one max_d and one cost row per column");
  done_ = max_p_ < 1 || max_d_[1] < 1;
}

void FamilySearch::next_column() {
  ++p_;
  lo_ = 0;
  step_ = 1;
  mode_ = up_ == kNone ? Mode::kUp : Mode::kDown;
}

std::optional<Shape> FamilySearch::next(int64_t best_cost) {
  FLOWKV_CHECK(!pending_, "FamilySearch::next called before the last shape was reported");
  while (!done_) {
    // Every later shape of the family is (p', d') >= (p, 1), or >= a feasible (p0, 1): costlier.
    if (p_ > max_p_ || max_d_[p_] < 1 || cost_[p_][1] > best_cost || up_ <= 1) {
      done_ = true;
      break;
    }
    // Shapes of this column still open: (lo, hi]; above hi they are known feasible-or-costlier
    // (>= up_), beyond the budget, or costlier than best_cost.
    int hi = std::min(max_d_[p_], up_ == kNone ? kNone : up_ - 1);
    while (hi > lo_ && cost_[p_][hi] > best_cost) --hi;
    if (hi <= lo_) {
      next_column();
      continue;
    }
    int d = 0;
    switch (mode_) {
      case Mode::kUp:
        d = std::min(lo_ + step_, hi);
        break;
      case Mode::kDown:
        d = std::max(up_ - step_, lo_ + 1);
        d = std::min(d, hi);
        break;
      case Mode::kBisect:
        d = std::min(lo_ + (up_ - lo_) / 2, hi);
        break;
    }
    d = std::max(d, lo_ + 1);
    pending_ = true;
    return Shape{p_, d};
  }
  return std::nullopt;
}

void FamilySearch::report(Shape s, bool feasible) {
  FLOWKV_CHECK(pending_ && s.p == p_, "FamilySearch::report of a shape it did not propose");
  pending_ = false;
  step_ *= 2;
  if (feasible) {
    up_ = s.d;
    // Upward galloping found the first feasible shape: bisect below it. Downward galloping goes on.
    if (mode_ == Mode::kUp) mode_ = Mode::kBisect;
  } else {
    lo_ = s.d;
    if (mode_ == Mode::kDown) mode_ = Mode::kBisect;
  }
}

}  // namespace flowkv::sim
