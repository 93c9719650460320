// The device a live run executes on, by name: "cpu" (always built) or "cuda" (CUDA builds; in a
// build without CUDA it says so and exits 2). Weights are random from the seed, or Hugging Face
// safetensors from `weights_dir`; they are made once per device and shared by its nodes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/spec/model_spec.h"
#include "runtime/executor.h"

namespace flowkv::cli {

struct LiveDeviceOptions {
  std::string kind = "cpu";
  std::string weights_dir;   // empty: random weights from `seed`
  uint64_t seed = 1;
  int32_t threads = 0;       // CPU: threads per node (0: cores / nodes, at least 1)
  int32_t nodes = 1;
  int32_t gpu = 0;           // CUDA: device index
};

std::unique_ptr<runtime::Device> make_live_device(const core::ModelSpec& model, const LiveDeviceOptions& options);

// Defined in cmd_cuda_device.cc (CUDA builds) or cmd_nocuda.cc.
std::unique_ptr<runtime::Device> make_cuda_live_device(const core::ModelSpec& model, const LiveDeviceOptions& options);

}  // namespace flowkv::cli
