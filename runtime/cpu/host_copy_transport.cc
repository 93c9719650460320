#include "runtime/cpu/host_copy_transport.h"

#include <cstring>

#include "core/base/error.h"

namespace flowkv::runtime {

TransferId HostCopyTransport::submit(TransferDesc desc) {
  if (!desc.copies.empty()) {
    FLOWKV_CHECK(desc.src != nullptr && desc.dst != nullptr,
                 "host copy transfer with a null source or destination buffer");
  }
  for (const core::Copy& c : desc.copies) {
    FLOWKV_CHECK(c.src_offset >= 0 && c.dst_offset >= 0 && c.bytes >= 0,
                 "host copy with a negative offset or size (src " + std::to_string(c.src_offset) +
                     ", dst " + std::to_string(c.dst_offset) + ", bytes " +
                     std::to_string(c.bytes) + ")");
    const auto s = reinterpret_cast<uintptr_t>(desc.src) + static_cast<uintptr_t>(c.src_offset);
    const auto d = reinterpret_cast<uintptr_t>(desc.dst) + static_cast<uintptr_t>(c.dst_offset);
    const auto n = static_cast<uintptr_t>(c.bytes);
    FLOWKV_CHECK(s + n <= d || d + n <= s,
                 "host copy whose source and destination ranges overlap (src " +
                     std::to_string(c.src_offset) + ", dst " + std::to_string(c.dst_offset) +
                     ", bytes " + std::to_string(c.bytes) + ")");
  }
  for (const core::Copy& c : desc.copies) {
    std::memcpy(desc.dst + c.dst_offset, desc.src + c.src_offset, static_cast<size_t>(c.bytes));
  }
  const uint64_t id = next_id_++;
  transfers_[id] = Record{TransferState::kCompleted, static_cast<int64_t>(desc.copies.size())};
  return TransferId{id};
}

const HostCopyTransport::Record& HostCopyTransport::record(TransferId id) const {
  const auto it = transfers_.find(static_cast<uint64_t>(id));
  FLOWKV_CHECK(it != transfers_.end(), "unknown host copy transfer " +
                                           std::to_string(static_cast<uint64_t>(id)));
  return it->second;
}

TransferState HostCopyTransport::poll(TransferId id) { return record(id).state; }

TransferState HostCopyTransport::wait(TransferId id, core::Duration) { return record(id).state; }

void HostCopyTransport::cancel(TransferId id) { (void)record(id); }  // always final already

std::string HostCopyTransport::error(TransferId id) const {
  (void)record(id);
  return "";
}

void HostCopyTransport::release(TransferId id) {
  (void)record(id);
  transfers_.erase(static_cast<uint64_t>(id));
}

int64_t HostCopyTransport::calls(TransferId id) const { return record(id).calls; }

}  // namespace flowkv::runtime
