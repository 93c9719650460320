#include "runtime/cuda/cuda_node_executor.h"

#include <cuda_runtime_api.h>

#include <cstring>
#include <string>

#include "core/base/error.h"
#include "kernels/cuda_check.h"
#include "runtime/cuda/iteration_plan.h"
#include "runtime/transport.h"

namespace flowkv::runtime {
namespace {

constexpr int kPoisonByte = 0x5A;  // bf16 0x5A5A: a large finite garbage value (about 1.5e16)

template <typename T>
const T* section(const DeviceBuffer& tables, size_t offset) {
  return reinterpret_cast<const T*>(tables.data() + offset);
}

}  // namespace

CudaNodeExecutor::CudaNodeExecutor(std::shared_ptr<const CudaModel> model,
                                   const core::KvLayout& layout)
    : model_(std::move(model)),
      layout_(layout),
      pool_(layout.geometry.pool_bytes()),
      gemm_(model_->gemm_algos, model_->options.gemm_workspace_bytes) {
  FLOWKV_CUDA_CHECK(cudaMemsetAsync(pool_.data(), 0, static_cast<size_t>(pool_.bytes()),
                                    stream_.get()));
  finish("zeroing the KV pool");
}

CudaNodeExecutor::~CudaNodeExecutor() {
  // Work may still be queued after a timeout; let it end before the buffers go.
  cudaSetDevice(model_->ordinal);
  cudaStreamSynchronize(stream_.get());
}

void CudaNodeExecutor::check_usable() const {
  if (!broken_.empty()) {
    throw core::Error(core::ErrorKind::kRuntime, "CUDA executor unusable: " + broken_);
  }
}

void CudaNodeExecutor::finish(const char* what) {
  done_.record(stream_.get());
  cudaError_t failure = cudaSuccess;
  const TransferState state = poll_until(
      [&] {
        const cudaError_t e = cudaEventQuery(done_.get());
        if (e == cudaSuccess) return TransferState::kCompleted;
        if (e == cudaErrorNotReady) return TransferState::kPending;
        failure = e;
        return TransferState::kFailed;
      },
      model_->options.iteration_timeout);
  if (state == TransferState::kCompleted) return;
  if (state == TransferState::kFailed) {
    broken_ = std::string(what) + ": " + cudaGetErrorName(failure) + " (" +
              cudaGetErrorString(failure) + ")";
    throw core::Error(core::ErrorKind::kRuntime, "CUDA executor: " + broken_);
  }
  broken_ = std::string(what) + " did not finish within " +
            std::to_string(model_->options.iteration_timeout.seconds()) + " s";
  throw core::Error(core::ErrorKind::kRuntime, "CUDA executor: " + broken_);
}

void CudaNodeExecutor::run(std::span<const ExecItem> items, std::span<int32_t> next,
                           std::span<float> logits) {
  check_usable();
  if (items.empty()) return;
  if (next.size() < items.size()) {
    core::throw_input_error("CUDA executor: " + std::to_string(next.size()) + " slots for the " +
                            "next tokens of " + std::to_string(items.size()) + " items");
  }
  FLOWKV_CUDA_CHECK(cudaSetDevice(model_->ordinal));
  const core::ModelSpec& spec = model_->weights->spec();
  const IterationPlan plan = plan_iteration(items, layout_, spec.vocab_size, spec.num_heads);
  const int64_t ns = plan.num_sampled();
  const int64_t vocab = spec.vocab_size;
  if (!logits.empty() && static_cast<int64_t>(logits.size()) < ns * vocab) {
    core::throw_input_error("CUDA executor: " + std::to_string(logits.size()) + " logits for " +
                            std::to_string(ns) + " sampled items of vocab " + std::to_string(vocab));
  }

  // Grow everything first: allocations wait for the device, and nothing of ours is in flight.
  host_tables_.reserve(static_cast<int64_t>(plan.sections.total));
  if (tables_.bytes() < static_cast<int64_t>(plan.sections.total)) {
    tables_ = DeviceBuffer();
    tables_ = DeviceBuffer(static_cast<int64_t>(plan.sections.total) * 5 / 4 + 256);
  }
  buffers_.reserve(spec, plan.num_tokens(), ns, plan.schedule.num_slots);
  host_next_.reserve(ns * 4);
  if (!logits.empty()) host_logits_.reserve(ns * vocab * 4);

  plan.pack(host_tables_.data());
  FLOWKV_CUDA_CHECK(cudaMemcpyAsync(tables_.data(), host_tables_.data(), plan.sections.total,
                                    cudaMemcpyHostToDevice, stream_.get()));
  ForwardTables t;
  t.token_ids = section<int32_t>(tables_, plan.sections.token_ids);
  t.positions = section<int32_t>(tables_, plan.sections.positions);
  t.token_blocks = section<int64_t>(tables_, plan.sections.token_blocks);
  t.block_ids = section<int64_t>(tables_, plan.sections.block_ids);
  t.items = section<kernels::AttentionItem>(tables_, plan.sections.items);
  t.prefill = section<kernels::AttentionWork>(tables_, plan.sections.prefill);
  t.decode = section<kernels::AttentionWork>(tables_, plan.sections.decode);
  t.combine = section<kernels::CombineWork>(tables_, plan.sections.combine);
  t.sampled_rows = section<int32_t>(tables_, plan.sections.sampled_rows);
  t.num_tokens = plan.num_tokens();
  t.num_sampled = ns;
  t.num_prefill = static_cast<int32_t>(plan.schedule.prefill.size());
  t.num_decode = static_cast<int32_t>(plan.schedule.decode.size());
  t.num_combine = static_cast<int32_t>(plan.schedule.combine.size());
  t.num_slots = plan.schedule.num_slots;
  enqueue_forward(*model_->weights, model_->shapes, model_->inv_freq.as<double>(), t, layout_,
                  pool_.data(), buffers_, gemm_, stream_.get());
  if (ns > 0) {
    FLOWKV_CUDA_CHECK(cudaMemcpyAsync(host_next_.data(), buffers_.next.data(),
                                      static_cast<size_t>(ns) * 4, cudaMemcpyDeviceToHost,
                                      stream_.get()));
    if (!logits.empty()) {
      FLOWKV_CUDA_CHECK(cudaMemcpyAsync(host_logits_.data(), buffers_.logits.data(),
                                        static_cast<size_t>(ns * vocab) * 4,
                                        cudaMemcpyDeviceToHost, stream_.get()));
    }
  }
  finish("an iteration");
  const int32_t* sampled = host_next_.as<int32_t>();
  for (int64_t i = 0; i < ns; ++i) {
    next[static_cast<size_t>(plan.sampled_items[static_cast<size_t>(i)])] = sampled[i];
  }
  if (!logits.empty() && ns > 0) {
    std::memcpy(logits.data(), host_logits_.data(), static_cast<size_t>(ns * vocab) * 4);
  }
}

void CudaNodeExecutor::poison() {
  check_usable();
  FLOWKV_CUDA_CHECK(cudaSetDevice(model_->ordinal));
  FLOWKV_CUDA_CHECK(cudaMemsetAsync(pool_.data(), kPoisonByte, static_cast<size_t>(pool_.bytes()),
                                    stream_.get()));
  finish("poisoning the KV pool");
}

}  // namespace flowkv::runtime
