// CudaDevice and CudaNodeExecutor: the runtime/executor.h interface on one GPU, in bf16.
//
// CudaDevice (one per GPU) holds the model once: weights in bf16 (random ones filled on the
// device from the seed with the pure function of runtime/model/random_weights.h, or uploaded
// from a loaded ModelWeights), the RoPE frequencies, and one cuBLASLt algorithm per GEMM shape
// (kernels/gemm.h). make_node() allocates a node's KV pool with cudaMalloc (zeroed) and returns a
// CudaNodeExecutor with its own stream, cuBLASLt workspace and activation scratch.
//
// One iteration (CudaNodeExecutor::run): the host builds the tables (runtime/cuda/iteration_plan.h)
// and uploads them in one copy from pinned memory, enqueues the forward pass
// (runtime/cuda/forward.h), downloads the next tokens (and logits when asked) into pinned memory,
// and polls an event against `iteration_timeout`: no wait can hang. A timeout or a CUDA error
// throws core::Error(kRuntime) and leaves the executor broken (later calls throw at once: work
// may still be running on its stream).
//
// What is guaranteed (token equality, runtime/executor.h):
//   - Batch invariance, bit for bit, on one device: a token's logits do not depend on which other
//     items share the iteration, how its prompt was chunked, or whether a position went through
//     the prefill or the decode attention path, nor on the layout or block ids. This holds
//     because every kernel computes a row from that row alone in a fixed order (norms, RoPE,
//     SwiGLU, argmax), attention reduces keys in position-aligned tiles and splits with the same
//     float operations on both paths (kernels/attention.h), and every GEMM shape runs one
//     cuBLASLt algorithm without split-K for every row count (GemmAlgoPolicy::kFixedPerShape).
//   - Same on two devices of the same model, driver and cuBLASLt version (the heuristic's choice
//     is deterministic), so a prefill on one GPU and a decode on another agree.
// What is not:
//   - Equality with the CPU executor: the GPU rounds activations to bf16 between kernels and
//     sums in another order, so logits agree within a bf16 tolerance, not bit for bit; a greedy
//     token can differ where the CPU's top two logits are that close (the tests accept such a
//     token and no other difference).
//   - Invariance if cuBLASLt refuses the fixed algorithm for a row count (then the heuristic's
//     pick runs; gemm_fallbacks() counts it), or under GemmAlgoPolicy::kHeuristicPerRows.
//
// Threading: a CudaDevice may be shared by node workers (its state is immutable after
// construction); each CudaNodeExecutor is used by one thread at a time. Every call makes the
// device current first. Models the executor cannot run (head_dim other than 32/64/128, a rope
// scaling other than llama3, a KV dtype other than bf16, a pool that does not fit) are refused
// when the device or node is made, as input errors.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/base/time.h"
#include "core/kv/kv_layout.h"
#include "core/spec/model_spec.h"
#include "kernels/gemm.h"
#include "runtime/cuda/device_copy_transport.h"
#include "runtime/executor.h"
#include "runtime/model/model_weights.h"

namespace flowkv::runtime {

struct CudaDeviceOptions {
  // Tokens per iteration that free_bytes() keeps room for (activation scratch of one node).
  int64_t max_batch_tokens = 8192;
  int64_t gemm_workspace_bytes = int64_t{32} << 20;
  kernels::GemmAlgoPolicy gemm_policy = kernels::GemmAlgoPolicy::kFixedPerShape;
  // Row count whose heuristic answer becomes every shape's algorithm (kFixedPerShape).
  int64_t gemm_reference_rows = 4096;
  core::Duration iteration_timeout = core::Duration::seconds(300);
  CopyEngine copy_engine = CopyEngine::kFusedKernel;  // of make_transport()
};

struct CudaModel;  // the device's immutable state, shared with its executors

class CudaDevice final : public Device {
 public:
  // Random weights from `seed`, filled on device `ordinal`.
  CudaDevice(int ordinal, const core::ModelSpec& spec, uint64_t seed,
             const CudaDeviceOptions& options = {});
  // Weights uploaded from host memory.
  CudaDevice(int ordinal, const ModelWeights& weights, const CudaDeviceOptions& options = {});
  ~CudaDevice() override;

  std::string name() const override;
  int64_t free_bytes() const override;
  std::unique_ptr<NodeExecutor> make_node(const core::KvLayout& layout) override;
  std::unique_ptr<Transport> make_transport() override;
  DeviceBytes allocate(int64_t bytes) override;

  const core::ModelSpec& spec() const;
  int64_t weight_bytes() const;
  // "qkv: algo 66 tile ..." per GEMM shape, for reports.
  std::string gemm_algorithms() const;

 private:
  std::shared_ptr<const CudaModel> model_;
};

// Refuses (input error / kUnsupported, naming the feature) a model the CUDA executor cannot run.
void check_cuda_executable(const core::ModelSpec& spec);

// The node executor's extras, for tests and benchmarks (make_node returns one of these).
class CudaNodeExecutorInfo {
 public:
  virtual ~CudaNodeExecutorInfo() = default;
  // Row counts for which cuBLASLt refused the fixed GEMM algorithm (0 when invariant).
  virtual int64_t gemm_fallbacks() const = 0;
};

}  // namespace flowkv::runtime
