#include <algorithm>
#include <string>

#include "core/base/error.h"
#include "kernels/attention.h"

namespace flowkv::kernels {

AttentionSchedule schedule_attention(std::span<const AttentionItem> items, int32_t num_heads,
                                     int32_t num_kv_heads) {
  if (num_heads <= 0 || num_kv_heads <= 0 || num_heads % num_kv_heads != 0) {
    core::throw_input_error("attention: " + std::to_string(num_heads) + " q heads are not a " +
                            "multiple of " + std::to_string(num_kv_heads) + " kv heads");
  }
  const int32_t group = num_heads / num_kv_heads;
  AttentionSchedule s;
  // Prefill blocks with their last key position, to start the longest first.
  std::vector<std::pair<int64_t, AttentionWork>> prefill;
  for (size_t i = 0; i < items.size(); ++i) {
    const AttentionItem& item = items[i];
    FLOWKV_CHECK(item.num_tokens >= 1 && item.context >= 0, "attention item without tokens");
    const int32_t index = static_cast<int32_t>(i);
    if (item.num_tokens == 1 && group <= kAttentionDecodeMaxGroup) {
      const int32_t splits = item.context / kAttentionSplitKeys + 1;
      for (int32_t split = 0; split < splits; ++split) {
        s.decode.push_back(AttentionWork{index, 0, split, s.num_slots + split});
      }
      s.combine.push_back(CombineWork{index, s.num_slots, splits, 0});
      s.num_slots += splits;
      continue;
    }
    const int64_t rows = int64_t{item.num_tokens} * group;
    const int64_t blocks = (rows + kAttentionPrefillRows - 1) / kAttentionPrefillRows;
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t last_row = std::min(rows, (b + 1) * kAttentionPrefillRows) - 1;
      prefill.push_back({item.context + last_row / group,
                         AttentionWork{index, static_cast<int32_t>(b), -1, -1}});
    }
  }
  std::stable_sort(prefill.begin(), prefill.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  s.prefill.reserve(prefill.size());
  for (const auto& p : prefill) s.prefill.push_back(p.second);
  return s;
}

}  // namespace flowkv::kernels
