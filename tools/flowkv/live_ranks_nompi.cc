// Compiled instead of live_ranks.cc when the build has no MPI: a multi-rank launch of
// `flowkv live` is refused, saying why (each rank would otherwise run the whole scenario alone).
#include "core/base/error.h"
#include "tools/flowkv/live_ranks.h"

namespace flowkv::cli {

int live_over_ranks(const LiveCommand&, const runtime::LaunchEnv& env) {
  throw core::Error(core::ErrorKind::kUnsupported,
                    "this flowkv was built without MPI, so `flowkv live` runs in one process, but " + env.launcher +
                        " started it as rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size) +
                        ": run it once without " + env.launcher +
                        ", or install Open MPI (tools/setup.sh: libopenmpi-dev openmpi-bin) and rebuild");
}

}  // namespace flowkv::cli
