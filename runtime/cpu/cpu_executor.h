// CpuDevice and CpuNodeExecutor: the CPU implementation of runtime/executor.h, a real
// Llama-architecture forward in float32 over a KV pool in host memory. The reference the live
// backend runs in CI, and what the CUDA executor's logits are compared with.
//
// Token equality holds bit for bit (see runtime/executor.h): every per-token value is computed
// by the functions of runtime/cpu/kernels.h, whose floating-point order is fixed per output
// element, never by the batch, the chunking, the thread or the tile; every position's K and V
// are written to the pool first and read back from it (in the pool's dtype) for attention, the
// new tokens' too, so a prefill chunk, a decode step and a re-prefill read the same values.
// reference_forward.h computes the same tokens without paging; the tests compare the two.
//
// The pool's elements: bf16 (rounded to nearest even) when geometry.dtype_bytes == 2 (an fp16
// model's KV is kept in bf16 too), float32 when 4; other sizes are refused by make_node.
//
// Lifecycle: a CpuDevice holds the weights (once, shared by its nodes). make_node allocates the
// node's pool (zeroed) and its threads; the node releases both when destroyed; a node may
// outlive its device (it holds the weights and the memory count it shares with it).
// Threading: a CpuDevice may be used from several threads (make_node, free_bytes); a
// CpuNodeExecutor from one thread at a time, which runs its tasks on the node's own threads.
// Failure: bad options, a layout that does not fit the model, or a pool over the memory budget
// are input errors at construction / make_node; a malformed iteration (a block id outside the
// pool, too few blocks, a token outside the vocabulary, wrong output sizes) is a kInternal error.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "runtime/executor.h"
#include "runtime/model/model_weights.h"

namespace flowkv::runtime {

class ThreadPool;

struct CpuDeviceOptions {
  // Threads that run one node's iterations (the calling worker thread is one of them).
  int32_t threads_per_node = 1;
  // Host memory for the weights and all nodes' KV pools; 0 = the machine's physical RAM.
  int64_t memory_bytes = 0;
};

class CpuDevice final : public Device {
 public:
  CpuDevice(std::shared_ptr<const ModelWeights> weights, CpuDeviceOptions options = {});

  std::string name() const override;
  // The budget, less the weights (float32) and the pools of live nodes.
  int64_t free_bytes() const override;
  std::unique_ptr<NodeExecutor> make_node(const core::KvLayout& layout) override;
  std::unique_ptr<Transport> make_transport() override;
  DeviceBytes allocate(int64_t bytes) override;

  const ModelWeights& weights() const { return *weights_; }
  int64_t weight_bytes() const { return weight_bytes_; }

 private:
  std::shared_ptr<const ModelWeights> weights_;
  CpuDeviceOptions options_;
  int64_t budget_bytes_ = 0;
  int64_t weight_bytes_ = 0;
  // Bytes of the pools of live nodes (shared with them: a node gives its bytes back when it
  // is destroyed, whether or not the device still exists).
  std::shared_ptr<std::atomic<int64_t>> pool_bytes_in_use_;
};

class CpuNodeExecutor final : public NodeExecutor {
 public:
  // Use CpuDevice::make_node; `layout` must already be checked against the weights.
  CpuNodeExecutor(std::shared_ptr<const ModelWeights> weights, const core::KvLayout& layout,
                  int32_t threads, std::shared_ptr<std::atomic<int64_t>> pool_bytes_in_use);
  ~CpuNodeExecutor() override;

  const core::KvLayout& layout() const override { return layout_; }
  std::byte* kv_data() override { return pool_.get(); }
  void run(std::span<const ExecItem> items, std::span<int32_t> next,
           std::span<float> logits = {}) override;
  void poison() override;

 private:
  struct FreeDeleter {
    void operator()(std::byte* p) const;
  };
  // Where token slot `slot` of block `block`, layer `layer`, K (0) or V (1), kv head `head`
  // starts in the pool: head_dim elements of dtype_bytes.
  std::byte* kv_at(int32_t layer, int32_t kv, int64_t block, int64_t slot, int32_t head) const;
  void check_items(std::span<const ExecItem> items, std::span<int32_t> next,
                   std::span<float> logits, int64_t sampled) const;
  void layer_forward(int32_t layer, std::span<const ExecItem> items);
  // Bias and RoPE of tokens [t0, t1), and their K and V written to the pool.
  void rope_and_write_kv(int32_t layer, std::span<const ExecItem> items, const LayerWeights& w,
                         int64_t t0, int64_t t1);
  void attention(int32_t layer, std::span<const ExecItem> items);

  std::shared_ptr<const ModelWeights> weights_;
  const core::ModelSpec& spec_;
  core::KvLayout layout_;
  std::unique_ptr<std::byte, FreeDeleter> pool_;  // layout_.geometry.pool_bytes()
  std::shared_ptr<std::atomic<int64_t>> pool_bytes_in_use_;
  std::unique_ptr<ThreadPool> threads_;
  std::vector<float> inv_freq_;  // [head_dim / 2]

  // Per-run buffers (kept to avoid reallocating), T = tokens of the iteration.
  std::vector<int32_t> token_item_;  // [T] the item of each token
  std::vector<int64_t> token_pos_;   // [T] its position
  std::vector<int64_t> item_first_;  // [items + 1] the item's first token
  std::vector<float> x_;             // [T][hidden] the residual stream
  std::vector<float> h_;             // [T][hidden] normed
  std::vector<float> qkv_;           // [T][(heads + 2 kv_heads) * head_dim]
  std::vector<float> attn_;          // [T][heads * head_dim]
  std::vector<float> proj_;          // [T][hidden]
  std::vector<float> gate_up_;       // [T][2 * intermediate]
  std::vector<float> act_;           // [T][intermediate]
};

}  // namespace flowkv::runtime
