// CpuDevice: the weights once, the host-memory budget, and the nodes' pools and transports.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "core/base/error.h"
#include "runtime/cpu/cpu_executor.h"
#include "runtime/cpu/host_copy_transport.h"

namespace flowkv::runtime {
namespace {

int64_t physical_ram_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? int64_t{pages} * page : 0;
}

int64_t floats_bytes(const std::vector<float>& v) { return static_cast<int64_t>(v.size()) * 4; }

int64_t weight_bytes_of(const ModelWeights& w) {
  int64_t n = floats_bytes(w.embed) + floats_bytes(w.final_norm) + floats_bytes(w.lm_head);
  for (const LayerWeights& l : w.layers) {
    n += floats_bytes(l.attn_norm) + floats_bytes(l.qkv) + floats_bytes(l.qkv_bias) +
         floats_bytes(l.o) + floats_bytes(l.mlp_norm) + floats_bytes(l.gate_up) +
         floats_bytes(l.down);
  }
  return n;
}

// The weights have the spec's shapes (they come from random_weights or load_safetensors, so a
// mismatch is our bug).
void check_weight_shapes(const ModelWeights& w) {
  const core::ModelSpec& s = w.spec;
  const auto expect = [&](const std::vector<float>& v, int64_t n, const char* what) {
    FLOWKV_CHECK(static_cast<int64_t>(v.size()) == n,
                 std::string(what) + " holds " + std::to_string(v.size()) + " values, the spec " +
                     std::to_string(n));
  };
  const int64_t h = s.hidden_size;
  const int64_t q = int64_t{s.num_heads} * s.head_dim;
  const int64_t qkv = int64_t{s.num_heads + 2 * s.num_kv_heads} * s.head_dim;
  const int64_t inter = s.intermediate_size;
  expect(w.embed, int64_t{s.vocab_size} * h, "embed");
  expect(w.final_norm, h, "final_norm");
  expect(w.lm_head, int64_t{s.vocab_size} * h, "lm_head");
  FLOWKV_CHECK(static_cast<int32_t>(w.layers.size()) == s.num_layers, "layer count");
  for (const LayerWeights& l : w.layers) {
    expect(l.attn_norm, h, "attn_norm");
    expect(l.qkv, qkv * h, "qkv");
    expect(l.qkv_bias, s.attention_bias ? qkv : 0, "qkv_bias");
    expect(l.o, h * q, "o");
    expect(l.mlp_norm, h, "mlp_norm");
    expect(l.gate_up, 2 * inter * h, "gate_up");
    expect(l.down, h * inter, "down");
  }
}

}  // namespace

CpuDevice::CpuDevice(std::shared_ptr<const ModelWeights> weights, CpuDeviceOptions options)
    : weights_(std::move(weights)),
      options_(options),
      pool_bytes_in_use_(std::make_shared<std::atomic<int64_t>>(0)) {
  FLOWKV_CHECK(weights_ != nullptr, "CpuDevice without weights");
  check_executable(weights_->spec);
  check_weight_shapes(*weights_);
  if (options_.threads_per_node < 1) {
    core::throw_input_error("cpu device: threads per node must be at least 1, got " +
                            std::to_string(options_.threads_per_node));
  }
  if (options_.memory_bytes < 0) {
    core::throw_input_error("cpu device: memory budget must be positive, got " +
                            std::to_string(options_.memory_bytes) + " bytes");
  }
  budget_bytes_ = options_.memory_bytes > 0 ? options_.memory_bytes : physical_ram_bytes();
  weight_bytes_ = weight_bytes_of(*weights_);
  if (weight_bytes_ > budget_bytes_) {
    core::throw_input_error("cpu device: model " + weights_->spec.name + "'s weights take " +
                            std::to_string(weight_bytes_) + " bytes as float32, over the host "
                            "memory budget of " + std::to_string(budget_bytes_) + " bytes");
  }
}

std::string CpuDevice::name() const {
  const int32_t t = options_.threads_per_node;
  return "cpu (" + std::to_string(t) + (t == 1 ? " thread)" : " threads)");
}

int64_t CpuDevice::free_bytes() const {
  return budget_bytes_ - weight_bytes_ - pool_bytes_in_use_->load();
}

std::unique_ptr<NodeExecutor> CpuDevice::make_node(const core::KvLayout& layout) {
  const core::ModelSpec& s = weights_->spec;
  const core::KvGeometry& g = layout.geometry;
  const auto mismatch = [&](const char* field, int64_t got, int64_t want) {
    core::throw_input_error("cpu device: the KV layout's " + std::string(field) + " is " +
                            std::to_string(got) + ", model " + s.name + " has " +
                            std::to_string(want));
  };
  if (g.num_layers != s.num_layers) mismatch("num_layers", g.num_layers, s.num_layers);
  if (g.num_kv_heads != s.num_kv_heads) mismatch("num_kv_heads", g.num_kv_heads, s.num_kv_heads);
  if (g.head_dim != s.head_dim) mismatch("head_dim", g.head_dim, s.head_dim);
  if (g.dtype_bytes != 2 && g.dtype_bytes != 4) {
    core::throw_input_error("cpu device: a KV element of " + std::to_string(g.dtype_bytes) +
                            " bytes; the CPU executor keeps KV in bf16 (2) or float32 (4)");
  }
  if (g.block_size < 1 || g.num_blocks < 1) {
    core::throw_input_error("cpu device: a KV pool of " + std::to_string(g.num_blocks) +
                            " blocks of " + std::to_string(g.block_size) +
                            " tokens; both must be positive");
  }
  const int64_t bytes = g.pool_bytes();
  const int64_t free = free_bytes();
  if (bytes > free) {
    core::throw_input_error(
        "cpu device: a KV pool of " + std::to_string(g.num_blocks) + " blocks x " +
        std::to_string(g.block_bytes()) + " bytes = " + std::to_string(bytes) +
        " bytes does not fit: " + std::to_string(free) + " bytes free of a budget of " +
        std::to_string(budget_bytes_) + " (weights " + std::to_string(weight_bytes_) +
        ", other pools " + std::to_string(pool_bytes_in_use_->load()) + ")");
  }
  return std::make_unique<CpuNodeExecutor>(weights_, layout, options_.threads_per_node,
                                           pool_bytes_in_use_);
}

std::unique_ptr<Transport> CpuDevice::make_transport() {
  return std::make_unique<HostCopyTransport>();
}

DeviceBytes CpuDevice::allocate(int64_t bytes) {
  FLOWKV_CHECK(bytes >= 0, "negative allocation");
  auto* p = static_cast<std::byte*>(std::malloc(static_cast<size_t>(std::max<int64_t>(bytes, 1))));
  if (p == nullptr) {
    throw core::Error(core::ErrorKind::kRuntime, "out of host memory for a " + std::to_string(bytes) + "-byte buffer");
  }
  return DeviceBytes(p, [](std::byte* q) { std::free(q); });
}

}  // namespace flowkv::runtime
