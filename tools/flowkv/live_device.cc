#include "tools/flowkv/live_device.h"

#include <algorithm>
#include <thread>

#include "core/base/error.h"
#include "runtime/cpu/cpu_executor.h"
#include "runtime/model/model_weights.h"

namespace flowkv::cli {

std::unique_ptr<runtime::Device> make_live_device(const core::ModelSpec& model, const LiveDeviceOptions& o) {
  if (o.kind == "cuda") return make_cuda_live_device(model, o);
  if (o.kind != "cpu") core::throw_input_error("--device: unknown device '" + o.kind + "' (expected cpu or cuda)");
  runtime::check_executable(model);
  auto weights = std::make_shared<const runtime::ModelWeights>(
      o.weights_dir.empty() ? runtime::random_weights(model, o.seed) : runtime::load_safetensors(model, o.weights_dir));
  runtime::CpuDeviceOptions copts;
  const int32_t cores = static_cast<int32_t>(std::max(1u, std::thread::hardware_concurrency()));
  copts.threads_per_node = o.threads > 0 ? o.threads : std::max(1, cores / std::max(1, o.nodes));
  return std::make_unique<runtime::CpuDevice>(std::move(weights), copts);
}

}  // namespace flowkv::cli
