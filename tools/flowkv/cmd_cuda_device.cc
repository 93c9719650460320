// The CUDA device of `flowkv live --device cuda` (compiled in CUDA builds only; cmd_nocuda.cc
// says why it is missing otherwise).
#include "core/base/error.h"
#include "runtime/cuda/cuda_executor.h"
#include "runtime/model/model_weights.h"
#include "tools/flowkv/live_device.h"

namespace flowkv::cli {

std::unique_ptr<runtime::Device> make_cuda_live_device(const core::ModelSpec& model, const LiveDeviceOptions& o) {
  runtime::check_cuda_executable(model);
  if (o.weights_dir.empty()) return std::make_unique<runtime::CudaDevice>(o.gpu, model, o.seed);
  const runtime::ModelWeights weights = runtime::load_safetensors(model, o.weights_dir);
  return std::make_unique<runtime::CudaDevice>(o.gpu, weights);
}

}  // namespace flowkv::cli
