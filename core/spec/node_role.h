// NodeRole: what a node of the cluster does. A scenario gives each node its first role; role
// controllers (core/sched) may change it at run time.
#pragma once

#include <cstdint>

namespace flowkv::core {

// kColocated serves both prefill and decode on one KV pool (no transfer).
enum class NodeRole : uint8_t { kPrefill, kDecode, kColocated };
const char* to_string(NodeRole role);

}  // namespace flowkv::core
