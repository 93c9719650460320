// Distinct id types: a RequestId cannot be passed where a NodeId is expected.
#pragma once

#include <cstdint>
#include <functional>

namespace flowkv::core {

enum class RequestId : uint64_t {};
enum class NodeId : uint32_t {};
enum class BlockId : uint32_t {};

template <typename Id>
constexpr auto to_int(Id id) {
  return static_cast<std::underlying_type_t<Id>>(id);
}

}  // namespace flowkv::core
