// Executors: run one iteration of the model over a node's KV pool, on some device.
//
// The live backend (runtime/live/) gives each node a NodeExecutor, made by the node's Device.
// A NodeExecutor owns the node's KV pool (host memory for the CPU device, device memory for
// CUDA), laid out by the scenario's core::KvLayout, and runs iterations over it: for every
// item it embeds the new tokens, writes their K and V into the request's blocks at their
// positions, attends over the request's blocks (all positions up to and including its own,
// causal), and returns the greedy next token of the items that ask for one.
//
// Token equality is the contract: for a given model, weights and token sequence, the next
// token must not depend on how the work was cut and batched (which items share an iteration,
// how a prompt is chunked, whether a position was computed by a prefill or a decode step, which
// layout or which blocks hold the KV). The CPU executor guarantees it bit for bit; the CUDA
// executor says in its header what it guarantees.
//
// Threading: a Device may be shared by several node workers (the weights are held once per
// device); each NodeExecutor is used by one worker thread at a time. Failures throw core::Error
// (the iteration failed); an input the executor cannot run (an unsupported model feature, a
// pool too large for the device) is refused when the executor is made, as an input error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "core/base/ids.h"
#include "core/kv/kv_layout.h"

namespace flowkv::runtime {

class Transport;

// Memory of a device, released by its own deleter.
using DeviceBytes = std::unique_ptr<std::byte, std::function<void(std::byte*)>>;

// One request's part of an iteration.
struct ExecItem {
  core::RequestId request{};
  // The new tokens, at positions [start, start + tokens.size()); at least one.
  std::span<const int32_t> tokens;
  // Tokens of this request whose KV the blocks already hold (its context before this step).
  int64_t start = 0;
  // The request's blocks in this pool, in order: position t lives in block
  // blocks[t / block_size] at slot t % block_size. Covers at least start + tokens.size().
  std::span<const int64_t> blocks;
  // Return the greedy next token after the last new token (a decode step, or the last chunk of
  // a prefill). Ties go to the lowest token id.
  bool sample = true;
};

class NodeExecutor {
 public:
  virtual ~NodeExecutor() = default;
  virtual const core::KvLayout& layout() const = 0;
  // The pool, layout().geometry.pool_bytes() bytes, in the device's memory.
  // // laid out by layout(): see core/kv/kv_layout.h
  virtual std::byte* kv_data() = 0;
  // Runs one forward pass over `items` (prefill chunks and decode steps together). next[i]
  // receives item i's next token when items[i].sample (left unchanged otherwise). When
  // `logits` is not empty it receives, for each sampled item in order, its vocab_size logits
  // (float32): what the executor tests compare between devices.
  virtual void run(std::span<const ExecItem> items, std::span<int32_t> next,
                   std::span<float> logits = {}) = 0;
  // Overwrites the whole pool with a fixed garbage pattern: the node crashed and lost its KV,
  // and anything that reads it afterwards without rewriting it must show as a wrong token.
  virtual void poison() = 0;
};

class Device {
 public:
  virtual ~Device() = default;
  // "cpu (2 threads)", "cuda:0 NVIDIA H200".
  virtual std::string name() const = 0;
  // Bytes a node's KV pool may take on this device, after the weights (for sizing pools and
  // refusing a model or pool that does not fit, with the numbers).
  virtual int64_t free_bytes() const = 0;
  // A node on this device: its KV pool (allocated now, zeroed) and its executor.
  virtual std::unique_ptr<NodeExecutor> make_node(const core::KvLayout& layout) = 0;
  // Moves KV between the pools of nodes on this device (HostCopyTransport on the CPU,
  // DeviceCopyTransport on a GPU); one per transfer worker.
  virtual std::unique_ptr<Transport> make_transport() = 0;
  // `bytes` of this device's memory (a staging buffer of a per-layer transfer), freed when the
  // pointer goes.
  virtual DeviceBytes allocate(int64_t bytes) = 0;
};

}  // namespace flowkv::runtime
