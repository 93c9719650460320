#include "core/free_run_set.h"

#include <iterator>
#include <limits>
#include <string>

#include "core/error.h"

namespace flowkv::core {

FreeRunSet::FreeRunSet(int64_t num_blocks) : num_blocks_(num_blocks) {
  // Block ids are 32 bits wide (core/ids.h).
  FLOWKV_CHECK(num_blocks >= 0 && num_blocks <= int64_t{std::numeric_limits<uint32_t>::max()},
               "a pool of " + std::to_string(num_blocks) + " blocks does not fit 32-bit block ids");
  if (num_blocks > 0) add_run(0, num_blocks);
}

void FreeRunSet::add_run(int64_t first, int64_t count) {
  by_first_.emplace(first, count);
  by_size_.emplace(count, first);
  num_free_ += count;
}

void FreeRunSet::remove_run(std::map<int64_t, int64_t>::iterator it) {
  by_size_.erase({it->second, it->first});
  num_free_ -= it->second;
  by_first_.erase(it);
}

void FreeRunSet::insert(int64_t first, int64_t count) {
  // Built only when a check fails: this runs on every free, in the simulator's hot path.
  auto what = [&] { return "blocks [" + std::to_string(first) + ", " + std::to_string(first + count) + ")"; };
  FLOWKV_CHECK(count > 0 && first >= 0 && first + count <= num_blocks_,
               what() + " are not inside the pool of " + std::to_string(num_blocks_));
  // The first free run starting after `first`, and the one before it.
  auto next = by_first_.upper_bound(first);
  if (next != by_first_.end()) {
    FLOWKV_CHECK(next->first >= first + count, what() + " are already (partly) free");
  }
  int64_t new_first = first;
  int64_t new_count = count;
  if (next != by_first_.begin()) {
    auto prev = std::prev(next);
    FLOWKV_CHECK(prev->first + prev->second <= first, what() + " are already (partly) free");
    if (prev->first + prev->second == first) {
      new_first = prev->first;
      new_count += prev->second;
      remove_run(prev);
    }
  }
  if (next != by_first_.end() && next->first == first + count) {
    new_count += next->second;
    remove_run(next);
  }
  add_run(new_first, new_count);
}

void FreeRunSet::erase(int64_t first, int64_t count) {
  FLOWKV_CHECK(count > 0, "erasing " + std::to_string(count) + " blocks");
  auto it = by_first_.upper_bound(first);
  FLOWKV_CHECK(it != by_first_.begin(), "block " + std::to_string(first) + " is not free");
  --it;
  const int64_t run_first = it->first;
  const int64_t run_end = it->first + it->second;
  FLOWKV_CHECK(first + count <= run_end, "blocks [" + std::to_string(first) + ", " +
                                             std::to_string(first + count) + ") are not all free");
  remove_run(it);
  if (run_first < first) add_run(run_first, first - run_first);
  if (first + count < run_end) add_run(first + count, run_end - (first + count));
}

std::optional<FreeRunSet::Run> FreeRunSet::best_fit(int64_t n) const {
  auto it = by_size_.lower_bound({n, std::numeric_limits<int64_t>::min()});
  if (it == by_size_.end()) return std::nullopt;
  return Run{it->second, it->first};
}

FreeRunSet::Run FreeRunSet::largest() const {
  if (by_size_.empty()) return Run{};
  const auto& [count, first] = *by_size_.rbegin();
  return Run{first, count};
}

bool FreeRunSet::is_free(int64_t block) const {
  auto it = by_first_.upper_bound(block);
  if (it == by_first_.begin()) return false;
  --it;
  return block < it->first + it->second;
}

}  // namespace flowkv::core
