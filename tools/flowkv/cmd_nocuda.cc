// Compiled instead of cmd_cuda_*.cc when the build has no CUDA: the GPU commands exist and
// say loudly why they cannot run, rather than being missing.
#include "core/base/error.h"
#include "tools/flowkv/command.h"
#include "tools/flowkv/live_device.h"

namespace flowkv::cli {
namespace {

int not_built(const Args&) {
  throw core::Error(core::ErrorKind::kUnsupported,
                    "this flowkv was built without CUDA/NCCL (FLOWKV_CUDA=OFF or no nvcc/NCCL "
                    "found at configure time); rebuild on a machine with the CUDA toolkit");
}

}  // namespace

std::unique_ptr<runtime::Device> make_cuda_live_device(const core::ModelSpec&, const LiveDeviceOptions&) {
  not_built({});
  return nullptr;
}

FLOWKV_COMMAND("bench-transfer", "measure KV transfer on a real GPU (needs a CUDA build)", not_built);
}  // namespace flowkv::cli
