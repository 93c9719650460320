// The engine of `flowkv bench-transfer`: measures how long it takes to move one request's KV
// from a prefill pool to a decode pool, by the transfer methods of the FlowKV paper's Table 3,
// on the GPU(s) at hand, and verifies the bytes at the destination.
//
// Methods (each on freshly created pools, the source filled with position-dependent random
// data (kernels/pattern.h), the destination poisoned):
//   per-block-paged           paged layout, one transport call per (layer, K|V, block):
//                             2 * L * N calls;
//   per-block-paged-fused     the same 2 * L * N segments in one fused-kernel launch (copy
//                             transport only: what a single GPU can do for the paged layout);
//   per-layer                 vLLM-disagg: gather the request's blocks into a staging buffer
//                             (one kernel), L calls (one per layer, K and V together), scatter
//                             (one kernel); the time includes gather and scatter;
//   flowkv-merged-empty       block-contiguous layout, empty pools, plan merged: 1 call;
//   flowkv-merged-fragmented  block-contiguous pools pre-filled to `occupancy` by a seeded
//                             history (core/kv/pool_history.h), plan merged: one call per run
//                             that is contiguous on both sides;
//   flowkv-merged-fragmented-fused  the same plan in one fused-kernel launch (copy only).
// Each is timed with CUDA events around the whole transfer, `warmup` unmeasured runs first,
// then `repeats` runs; the median is reported. The copy baseline (one large cudaMemcpyAsync,
// or one large ncclSend/ncclRecv) is measured in the same run, and every method's GB/s is
// reported as a ratio to it. Bytes are checked after the first run and again after the last
// (every byte of the destination pool: the request's bytes must match the source, all others
// must still hold the poison); a mismatch is an error (kRuntime), never a figure.
//
// With the NCCL transport, rank 0 holds the source pool and sends, the last rank holds the
// destination pool, receives, verifies and reports; a 1-rank world sends to itself.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/time.h"
#include "core/spec/model_spec.h"

namespace flowkv::runtime {

enum class BenchTransport { kCopy, kNccl };

struct TransferBenchOptions {
  core::ModelSpec model;
  std::vector<int64_t> tokens;
  int32_t block_size = 16;
  double occupancy = 0.5;          // of the fragmented pools
  uint64_t seed = 1;
  int repeats = 10;
  int warmup = 2;
  BenchTransport transport = BenchTransport::kCopy;
  int64_t baseline_bytes = int64_t{1} << 30;
  core::Duration timeout = core::Duration::seconds(120);  // per transfer and per set-up step
};

struct MethodResult {
  std::string key;
  std::string engine;          // "memcpy", "fused-kernel" or "nccl"
  int64_t calls = 0;           // transport calls (memcpy calls, kernel launches, NCCL ops)
  int64_t local_launches = 0;  // gather/scatter kernels around the transport (per-layer)
  int64_t src_runs = 0;        // runs of consecutive block ids of the request, each side
  int64_t dst_runs = 0;
  std::vector<double> ms;      // every timed run
  double median_ms = 0;
  double gb_per_s = 0;         // request bytes / median time
  double ratio_to_copy = 0;    // gb_per_s / the copy baseline's
};

struct TokenResult {
  int64_t tokens = 0;
  int64_t blocks = 0;
  int64_t bytes = 0;           // KV bytes moved (whole blocks)
  std::vector<MethodResult> methods;
};

struct TransferBenchReport {
  bool reporter = true;        // whether this rank verified and holds the figures
  nlohmann::json device;       // name, compute capability, versions, ...
  int64_t baseline_bytes = 0;
  double baseline_median_ms = 0;
  double baseline_gb_per_s = 0;
  std::vector<TokenResult> results;
};

// Runs every method for every token count. Progress goes to `log`. Throws core::Error on bad
// options (kInvalidInput), a device without room (kUnsupported) or a failed check (kRuntime).
TransferBenchReport run_transfer_bench(const TransferBenchOptions& options, std::ostream& log);

// Per-call cost of the memcpy transport, from the per-block rows: (time - bytes / baseline
// bandwidth) / calls, the median over token counts. 0 when there are no such rows.
double per_call_seconds(const TransferBenchReport& report);

nlohmann::json to_json(const TransferBenchOptions& options, const TransferBenchReport& report);
void print_table(const TransferBenchOptions& options, const TransferBenchReport& report,
                 std::ostream& out);

const char* to_string(BenchTransport transport);

}  // namespace flowkv::runtime
