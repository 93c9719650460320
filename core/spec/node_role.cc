#include "core/spec/node_role.h"

namespace flowkv::core {

const char* to_string(NodeRole role) {
  switch (role) {
    case NodeRole::kPrefill: return "prefill";
    case NodeRole::kDecode: return "decode";
    case NodeRole::kColocated: return "colocated";
  }
  return "unknown";
}

}  // namespace flowkv::core
