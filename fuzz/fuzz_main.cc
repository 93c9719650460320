// The libFuzzer entry shared by every fuzz target. Each executable links this object with a
// one-line file that CMake generates, defining kTargetName: the entry of flowkv::fuzz::targets()
// (fuzz/entry_points.h) that holds the parser and its contract. One object for all targets keeps
// the build short: this file is the expensive one to compile.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "fuzz/entry_points.h"

namespace flowkv::fuzz {
extern const char kTargetName[];
}  // namespace flowkv::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using flowkv::fuzz::Outcome;
  static const flowkv::fuzz::Target* const target = [] {
    const flowkv::fuzz::Target* t = flowkv::fuzz::find_target(flowkv::fuzz::kTargetName);
    if (!t) {
      std::fprintf(stderr, "fuzz: no target '%s' in fuzz/entry_points.h\n", flowkv::fuzz::kTargetName);
      std::abort();
    }
    return t;
  }();
  try {
    const Outcome outcome = target->run(std::string_view(reinterpret_cast<const char*>(data), size));
    // -1 keeps an out-of-scope input out of the corpus.
    return outcome == Outcome::kSkipped ? -1 : 0;
  } catch (const flowkv::fuzz::ContractViolation& e) {
    std::fprintf(stderr, "\nfuzz target %s: contract violated: %s\n", flowkv::fuzz::kTargetName, e.what());
    std::abort();
  }
}
