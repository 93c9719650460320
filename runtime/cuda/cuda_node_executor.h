// CudaNodeExecutor: one node's KV pool and iterations on a CudaDevice (see cuda_executor.h for
// the contract). Internal to runtime/cuda/: made by CudaDevice::make_node.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "core/kv/kv_layout.h"
#include "kernels/gemm.h"
#include "runtime/cuda/cuda_executor.h"
#include "runtime/cuda/cuda_handles.h"
#include "runtime/cuda/cuda_model.h"
#include "runtime/cuda/forward.h"
#include "runtime/cuda/pinned_buffer.h"

namespace flowkv::runtime {

class CudaNodeExecutor final : public NodeExecutor, public CudaNodeExecutorInfo {
 public:
  // Allocates and zeroes the pool (the device must be current).
  CudaNodeExecutor(std::shared_ptr<const CudaModel> model, const core::KvLayout& layout);
  ~CudaNodeExecutor() override;

  const core::KvLayout& layout() const override { return layout_; }
  std::byte* kv_data() override { return pool_.data(); }
  void run(std::span<const ExecItem> items, std::span<int32_t> next,
           std::span<float> logits = {}) override;
  void poison() override;
  int64_t gemm_fallbacks() const override { return gemm_.fallbacks(); }

 private:
  // Records the done event and polls it until the deadline; throws (and breaks the executor) on
  // timeout or a CUDA error.
  void finish(const char* what);
  void check_usable() const;

  std::shared_ptr<const CudaModel> model_;
  core::KvLayout layout_;
  DeviceBuffer pool_;          // laid out by layout_
  CudaStream stream_;
  CudaEvent done_;
  kernels::GemmRunner gemm_;
  ForwardBuffers buffers_;
  DeviceBuffer tables_;        // the packed IterationPlan
  PinnedBuffer host_tables_;
  PinnedBuffer host_next_;     // [num_sampled] int32
  PinnedBuffer host_logits_;   // [num_sampled][vocab] f32, when logits are asked for
  std::string broken_;         // why the executor cannot be used any more ("" while healthy)
};

}  // namespace flowkv::runtime
