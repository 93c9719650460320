// What the controller's source files share and nobody else uses: the layout of WorkIds and a
// queue helper. Not part of the controller's interface.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "core/work/node_state.h"
#include "core/work/work.h"

namespace flowkv::core::controller_internal {

// WorkId layout: [seq:32][index:30][kind:2]; index is a node or a slot.
inline constexpr uint64_t kIterationWork = 0;
inline constexpr uint64_t kTransferWork = 1;
inline constexpr uint64_t kFlipWork = 2;
inline constexpr uint64_t kTimerWork = 3;
inline constexpr uint64_t kIndexMask = (uint64_t{1} << 30) - 1;

// How many requests ahead the decode loops prefetch a batch member's slot (a cache miss each:
// slots are reused in any order, so a batch is scattered over the pool).
inline constexpr size_t kPrefetchAhead = 6;

inline uint64_t work_kind(WorkId id) { return to_int(id) & 3; }
inline uint64_t work_index(WorkId id) { return (to_int(id) >> 2) & kIndexMask; }

// Removes the first `s` from a queue; false when it is not there.
template <typename Container>
bool erase_value(Container& c, Slot s) {
  auto it = std::find(c.begin(), c.end(), s);
  if (it == c.end()) return false;
  c.erase(it);
  return true;
}

}  // namespace flowkv::core::controller_internal
