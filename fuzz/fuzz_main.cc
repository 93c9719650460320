// The libFuzzer entry of one fuzz target: FLOWKV_FUZZ_TARGET names an entry of
// flowkv::fuzz::targets() (fuzz/entry_points.h), which holds the parser and its contract.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "fuzz/entry_points.h"

#ifndef FLOWKV_FUZZ_TARGET
#error "FLOWKV_FUZZ_TARGET must name a fuzz target (fuzz/CMakeLists.txt defines it)"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using flowkv::fuzz::Outcome;
  static const flowkv::fuzz::Target* const target = [] {
    const flowkv::fuzz::Target* t = flowkv::fuzz::find_target(FLOWKV_FUZZ_TARGET);
    if (!t) {
      std::fprintf(stderr, "fuzz: no target '%s' in fuzz/entry_points.h\n", FLOWKV_FUZZ_TARGET);
      std::abort();
    }
    return t;
  }();
  try {
    const Outcome outcome = target->run(std::string_view(reinterpret_cast<const char*>(data), size));
    // -1 keeps an out-of-scope input out of the corpus.
    return outcome == Outcome::kSkipped ? -1 : 0;
  } catch (const flowkv::fuzz::ContractViolation& e) {
    std::fprintf(stderr, "\nfuzz target %s: contract violated: %s\n", FLOWKV_FUZZ_TARGET, e.what());
    std::abort();
  }
}
