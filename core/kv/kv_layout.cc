#include "core/kv/kv_layout.h"

namespace flowkv::core {

const char* to_string(LayoutKind kind) {
  switch (kind) {
    case LayoutKind::kPagedPerLayer:
      return "paged";
    case LayoutKind::kBlockContiguous:
      return "contiguous";
  }
  return "unknown";
}

}  // namespace flowkv::core
