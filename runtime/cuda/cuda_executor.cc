#include "runtime/cuda/cuda_executor.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/base/error.h"
#include "kernels/cuda_check.h"
#include "kernels/rope.h"
#include "runtime/cuda/cuda_handles.h"
#include "runtime/cuda/cuda_model.h"
#include "runtime/cuda/cuda_node_executor.h"
#include "runtime/cuda/device_weights.h"
#include "runtime/cuda/forward.h"

namespace flowkv::runtime {
namespace {

constexpr int64_t kReserveMarginBytes = int64_t{256} << 20;

void select_device(int ordinal) {
  int count = 0;
  FLOWKV_CUDA_CHECK(cudaGetDeviceCount(&count));
  if (ordinal < 0 || ordinal >= count) {
    core::throw_input_error("CUDA device " + std::to_string(ordinal) + " does not exist (" +
                            std::to_string(count) + " devices)");
  }
  FLOWKV_CUDA_CHECK(cudaSetDevice(ordinal));
}

std::shared_ptr<const CudaModel> make_model(int ordinal, const CudaDeviceOptions& options,
                                            const core::ModelSpec& spec,
                                            const std::function<DeviceWeights(cudaStream_t)>& load) {
  check_cuda_executable(spec);
  select_device(ordinal);
  auto model = std::make_shared<CudaModel>();
  model->ordinal = ordinal;
  model->options = options;
  cudaDeviceProp prop{};
  FLOWKV_CUDA_CHECK(cudaGetDeviceProperties(&prop, ordinal));
  model->device_name = prop.name;
  CudaStream stream;
  model->weights = std::make_unique<DeviceWeights>(load(stream.get()));
  const std::vector<double> inv_freq = kernels::rope_inv_freq(spec);
  model->inv_freq = DeviceBuffer(static_cast<int64_t>(inv_freq.size() * sizeof(double)));
  FLOWKV_CUDA_CHECK(cudaMemcpyAsync(model->inv_freq.data(), inv_freq.data(),
                                    inv_freq.size() * sizeof(double), cudaMemcpyHostToDevice,
                                    stream.get()));
  FLOWKV_CUDA_CHECK(cudaStreamSynchronize(stream.get()));  // executors' streams read it later
  model->shapes = model_gemm_shapes(spec);
  if (options.gemm_policy == kernels::GemmAlgoPolicy::kFixedPerShape) {
    kernels::CublasLtHandle handle;
    auto table = std::make_shared<kernels::GemmAlgoTable>();
    const ModelGemmShapes& s = model->shapes;
    for (const kernels::GemmShape& shape : {s.qkv, s.o, s.gate_up, s.down, s.lm_head}) {
      if (table->count(shape)) continue;
      table->emplace(shape, kernels::choose_gemm_algo(handle.get(), shape,
                                                      options.gemm_reference_rows,
                                                      options.gemm_workspace_bytes));
    }
    model->gemm_algos = std::move(table);
  }
  return model;
}

}  // namespace

void check_cuda_executable(const core::ModelSpec& s) {
  if (s.head_dim != 32 && s.head_dim != 64 && s.head_dim != 128) {
    throw core::Error(core::ErrorKind::kUnsupported,
                      "CUDA executor: head_dim " + std::to_string(s.head_dim) + " of model " +
                          s.name + " is not supported (32, 64 or 128)");
  }
  if (s.num_layers <= 0 || s.num_heads <= 0 || s.num_kv_heads <= 0 ||
      s.num_heads % s.num_kv_heads != 0) {
    core::throw_input_error("CUDA executor: model " + s.name + " needs layers > 0 and a number of "
                            "q heads that is a multiple of the kv heads");
  }
  if (s.hidden_size <= 0 || s.hidden_size % 8 != 0 || s.intermediate_size <= 0 ||
      s.intermediate_size % 8 != 0 || s.vocab_size <= 0) {
    throw core::Error(core::ErrorKind::kUnsupported,
                      "CUDA executor: model " + s.name +
                          " needs hidden and intermediate sizes that are multiples of 8");
  }
  if (!s.rope_scaling_unsupported.empty()) {
    throw core::Error(core::ErrorKind::kUnsupported,
                      "CUDA executor: model " + s.name + " has " + s.rope_scaling_unsupported +
                          " (only llama3 rope scaling is implemented)");
  }
}

CudaDevice::CudaDevice(int ordinal, const core::ModelSpec& spec, uint64_t seed,
                       const CudaDeviceOptions& options)
    : model_(make_model(ordinal, options, spec, [&](cudaStream_t stream) {
        return DeviceWeights::random(spec, seed, stream);
      })) {}

CudaDevice::CudaDevice(int ordinal, const ModelWeights& weights, const CudaDeviceOptions& options)
    : model_(make_model(ordinal, options, weights.spec, [&](cudaStream_t stream) {
        return DeviceWeights::upload(weights, stream);
      })) {}

CudaDevice::~CudaDevice() = default;

std::string CudaDevice::name() const {
  return "cuda:" + std::to_string(model_->ordinal) + " " + model_->device_name;
}

int64_t CudaDevice::free_bytes() const {
  FLOWKV_CUDA_CHECK(cudaSetDevice(model_->ordinal));
  size_t free = 0;
  size_t total = 0;
  FLOWKV_CUDA_CHECK(cudaMemGetInfo(&free, &total));
  return std::max<int64_t>(0, static_cast<int64_t>(free) - node_reserve_bytes(*model_));
}

std::unique_ptr<NodeExecutor> CudaDevice::make_node(const core::KvLayout& layout) {
  FLOWKV_CUDA_CHECK(cudaSetDevice(model_->ordinal));
  const core::ModelSpec& s = model_->weights->spec();
  const core::KvGeometry& g = layout.geometry;
  if (g.num_layers != s.num_layers || g.num_kv_heads != s.num_kv_heads ||
      g.head_dim != s.head_dim) {
    core::throw_input_error("CUDA executor: the KV layout (" + std::to_string(g.num_layers) +
                            " layers, " + std::to_string(g.num_kv_heads) + " kv heads, head dim " +
                            std::to_string(g.head_dim) + ") does not match model " + s.name);
  }
  if (g.dtype_bytes != 2) {
    throw core::Error(core::ErrorKind::kUnsupported,
                      "CUDA executor: KV dtype of " + std::to_string(g.dtype_bytes) +
                          " bytes (only bf16 is implemented)");
  }
  if (g.block_size <= 0 || g.num_blocks <= 0) {
    core::throw_input_error("CUDA executor: a KV pool needs a positive block size and block count");
  }
  const int64_t available = free_bytes();
  if (g.pool_bytes() > available) {
    core::throw_input_error("CUDA executor: a KV pool of " + std::to_string(g.num_blocks) +
                            " blocks (" + std::to_string(g.pool_bytes()) + " bytes) does not fit on " +
                            name() + ": " + std::to_string(available) +
                            " bytes free after the weights and one node's scratch");
  }
  return std::make_unique<CudaNodeExecutor>(model_, layout);
}

std::unique_ptr<Transport> CudaDevice::make_transport() {
  FLOWKV_CUDA_CHECK(cudaSetDevice(model_->ordinal));
  return std::make_unique<DeviceCopyTransport>(model_->options.copy_engine);
}

DeviceBytes CudaDevice::allocate(int64_t bytes) {
  FLOWKV_CHECK(bytes >= 0, "negative allocation");
  FLOWKV_CUDA_CHECK(cudaSetDevice(model_->ordinal));
  void* p = nullptr;
  FLOWKV_CUDA_CHECK(cudaMalloc(&p, static_cast<size_t>(std::max<int64_t>(bytes, 1))));
  const int ordinal = model_->ordinal;
  return DeviceBytes(static_cast<std::byte*>(p), [ordinal](std::byte* q) {
    // A deleter cannot throw: a failure to free is reported and ignored.
    if (cudaSetDevice(ordinal) != cudaSuccess || cudaFree(q) != cudaSuccess) {
      std::fprintf(stderr, "flowkv: cudaFree of a staging buffer failed\n");
    }
  });
}

const core::ModelSpec& CudaDevice::spec() const { return model_->weights->spec(); }

int64_t CudaDevice::weight_bytes() const { return model_->weights->bytes(); }

std::string CudaDevice::gemm_algorithms() const {
  if (!model_->gemm_algos) return "heuristic per row count";
  const ModelGemmShapes& s = model_->shapes;
  const std::pair<const char*, kernels::GemmShape> named[] = {
      {"qkv", s.qkv}, {"o", s.o}, {"gate_up", s.gate_up}, {"down", s.down}, {"lm_head", s.lm_head}};
  std::string out;
  for (const auto& [label, shape] : named) {
    if (!out.empty()) out += "; ";
    out += std::string(label) + ": " + model_->gemm_algos->at(shape).description;
  }
  return out;
}

int64_t node_reserve_bytes(const CudaModel& model) {
  const core::ModelSpec& s = model.weights->spec();
  const int64_t tokens = model.options.max_batch_tokens;
  // Room for up to 256 sampled rows and 256 decode items of 8k-token contexts; larger
  // iterations grow the scratch beyond this estimate.
  const int64_t decode_items = std::min<int64_t>(tokens, 256);
  const int64_t slots = decode_items * (8192 / kernels::kAttentionSplitKeys + 1);
  return ForwardBuffers::bytes_for(s, tokens, decode_items, slots) +
         model.options.gemm_workspace_bytes + kReserveMarginBytes;
}

}  // namespace flowkv::runtime
