#include "runtime/cuda/transfer_bench.h"

#include <nccl.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "core/base/error.h"
#include "core/kv/block_allocator.h"
#include "core/kv/pool_history.h"
#include "core/kv/transfer_plan.h"
#include "kernels/cuda_check.h"
#include "kernels/layout_copy.h"
#include "kernels/pattern.h"
#include "runtime/cuda/bench_verify.h"
#include "runtime/cuda/cuda_handles.h"
#include "runtime/cuda/device_copy_transport.h"
#include "runtime/cuda/kv_pool.h"
#include "runtime/cuda/nccl_transport.h"
#include "runtime/cuda/rendezvous.h"

namespace flowkv::runtime {
namespace {

using core::LayoutKind;
using core::TransferMode;

struct MethodSpec {
  const char* key;
  LayoutKind layout;
  TransferMode mode;
  bool fragmented;
  bool fused;  // fused-kernel engine (copy transport only)
};

constexpr MethodSpec kMethods[] = {
    {"per-block-paged", LayoutKind::kPagedPerLayer, TransferMode::kPerBlock, false, false},
    {"per-block-paged-fused", LayoutKind::kPagedPerLayer, TransferMode::kPerBlock, false, true},
    {"per-layer", LayoutKind::kPagedPerLayer, TransferMode::kPerLayer, false, false},
    {"flowkv-merged-empty", LayoutKind::kBlockContiguous, TransferMode::kMerged, false, false},
    {"flowkv-merged-fragmented", LayoutKind::kBlockContiguous, TransferMode::kMerged, true, false},
    {"flowkv-merged-fragmented-fused", LayoutKind::kBlockContiguous, TransferMode::kMerged, true, true},
};

// Seeds of the two pool histories (the data seeds are in bench_verify.h), from the one --seed.
uint64_t history_seed(uint64_t seed, int side) { return seed * 4 + 3 + static_cast<uint64_t>(side) * 7919; }

struct Links {
  DeviceCopyTransport* memcpy = nullptr;
  DeviceCopyTransport* fused = nullptr;
  NcclTransport* nccl = nullptr;
  bool has_src = true;  // this rank holds the source pool
  bool has_dst = true;  // this rank holds the destination pool (and verifies)
};

// One side of a transfer: its layout and allocator (every rank builds both sides' allocators
// from the same seeds, so every rank plans the same copies), and its memory when it is local.
struct Side {
  core::KvLayout layout;
  std::unique_ptr<core::BlockAllocator> allocator;
  core::BlockList request;
  DeviceBuffer memory;  // pool_bytes, when local
};

int64_t runs_of(const core::BlockList& list) { return static_cast<int64_t>(list.size()); }

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void wait_event(const CudaEvent& event, core::Duration timeout, const char* what) {
  cudaError_t last = cudaErrorNotReady;
  const TransferState s = poll_until(
      [&] {
        last = cudaEventQuery(event.get());
        if (last == cudaSuccess) return TransferState::kCompleted;
        if (last == cudaErrorNotReady) return TransferState::kPending;
        return TransferState::kFailed;
      },
      timeout);
  if (s == TransferState::kPending) {
    throw core::Error(core::ErrorKind::kRuntime, std::string(what) + ": not complete after " +
                                                     std::to_string(timeout.millis()) + " ms");
  }
  if (s == TransferState::kFailed) kernels::throw_cuda_error(last, what, __FILE__, __LINE__);
}

// Runs one transfer (and, per layer, its gather and scatter) on the transport's stream and
// returns its time in milliseconds between CUDA events around the whole of it.
class Runner {
 public:
  Runner(CudaTransport& transport, const Links& links, core::Duration timeout)
      : t_(transport), links_(links), timeout_(timeout), start_(true), end_(true) {}

  struct Staging {
    const core::KvLayout* src_layout = nullptr;
    const int64_t* src_ids = nullptr;  // device
    const core::KvLayout* dst_layout = nullptr;
    const int64_t* dst_ids = nullptr;  // device
    int64_t n = 0;
    std::byte* src_buffer = nullptr;
    std::byte* dst_buffer = nullptr;
  };

  double run(const std::byte* src, std::byte* dst, const std::vector<core::Copy>& copies,
             const std::optional<Staging>& staging, int64_t& calls) {
    if (links_.nccl) links_.nccl->barrier(timeout_);
    TransferDesc desc;
    desc.copies = copies;
    desc.src = links_.has_src ? (staging ? staging->src_buffer : src) : nullptr;
    desc.dst = links_.has_dst ? (staging ? staging->dst_buffer : dst) : nullptr;
    cudaStream_t s = t_.stream();
    start_.record(s);
    if (staging && links_.has_src) {
      kernels::gather_blocks(*staging->src_layout, src, staging->src_ids, staging->n,
                             staging->src_buffer, s);
    }
    const TransferId id = t_.submit(std::move(desc));
    if (staging && links_.has_dst) {
      kernels::scatter_blocks(staging->dst_buffer, *staging->dst_layout, dst, staging->dst_ids,
                              staging->n, s);
    }
    end_.record(s);
    const TransferState state = t_.wait(id, timeout_);
    calls = t_.calls(id);
    const std::string why = t_.error(id);
    t_.release(id);
    if (state != TransferState::kCompleted) {
      throw core::Error(core::ErrorKind::kRuntime, std::string("transfer over ") + t_.name() + " " +
                                                       to_string(state) + ": " + why);
    }
    wait_event(end_, timeout_, "transfer end event");
    return CudaEvent::elapsed_ms(start_, end_);
  }

 private:
  CudaTransport& t_;
  const Links& links_;
  core::Duration timeout_;
  CudaEvent start_;
  CudaEvent end_;
};

DeviceBuffer upload_ids(const std::vector<int64_t>& ids) {
  DeviceBuffer b(static_cast<int64_t>(ids.size() * sizeof(int64_t)));
  if (!ids.empty()) {
    FLOWKV_CUDA_CHECK(cudaMemcpy(b.data(), ids.data(), ids.size() * sizeof(int64_t),
                                 cudaMemcpyHostToDevice));
  }
  return b;
}

class Bench {
 public:
  Bench(const TransferBenchOptions& o, std::ostream& log) : o_(o), log_(log) {}

  TransferBenchReport run() {
    validate();
    TransferBenchReport report;
    std::optional<NcclTransport> nccl;
    std::optional<DeviceCopyTransport> memcpy_transport;
    std::optional<DeviceCopyTransport> fused_transport;
    int device_count = 0;
    FLOWKV_CUDA_CHECK(cudaGetDeviceCount(&device_count));
    if (o_.transport == BenchTransport::kNccl) {
      const RankInfo info = rank_info_from_env();
      if (info.world_size > 2) {
        core::throw_input_error("bench-transfer --transport nccl runs on 1 (loopback) or 2 ranks; "
                                "WORLD_SIZE=" + std::to_string(info.world_size));
      }
      // One GPU per rank; ranks of one host take consecutive devices.
      FLOWKV_CUDA_CHECK(cudaSetDevice(info.rank % device_count));
      log_ << "bench-transfer: rank " << info.rank << " of " << info.world_size
           << " on device " << info.rank % device_count << ", creating the NCCL communicator\n";
      nccl.emplace(info, o_.timeout);
      links_.nccl = &*nccl;
      links_.has_src = info.rank == 0;
      links_.has_dst = info.rank == info.world_size - 1;
    } else {
      memcpy_transport.emplace(CopyEngine::kMemcpy);
      fused_transport.emplace(CopyEngine::kFusedKernel);
      links_.memcpy = &*memcpy_transport;
      links_.fused = &*fused_transport;
    }
    report.reporter = links_.has_dst;
    report.device = describe_device();
    plan_pool_size();
    measure_baseline(report);
    for (int64_t tokens : o_.tokens) {
      TokenResult tr;
      tr.tokens = tokens;
      tr.blocks = shape_.blocks_for_tokens(tokens);
      tr.bytes = tr.blocks * shape_.block_bytes();
      for (const MethodSpec& m : kMethods) {
        if (m.fused && !links_.fused) continue;
        MethodResult r = run_method(m, tr.blocks);
        r.median_ms = median(r.ms);
        r.gb_per_s = r.median_ms > 0 ? static_cast<double>(tr.bytes) / (r.median_ms * 1e-3) / 1e9 : 0;
        r.ratio_to_copy = report.baseline_gb_per_s > 0 ? r.gb_per_s / report.baseline_gb_per_s : 0;
        log_ << "  " << tokens << " tokens  " << r.key << ": " << r.median_ms << " ms, "
             << r.calls << " calls\n";
        tr.methods.push_back(std::move(r));
      }
      report.results.push_back(std::move(tr));
    }
    return report;
  }

 private:
  void validate() {
    if (o_.tokens.empty()) core::throw_input_error("--tokens: give at least one token count");
    for (int64_t t : o_.tokens) {
      if (t <= 0) core::throw_input_error("--tokens: " + std::to_string(t) + " is not a positive count");
    }
    if (o_.block_size <= 0) core::throw_input_error("--block-size must be positive");
    if (!(o_.occupancy >= 0.0 && o_.occupancy <= 0.95)) {
      core::throw_input_error("--occupancy " + std::to_string(o_.occupancy) +
                              ": expected a fraction in [0, 0.95]");
    }
    if (o_.repeats < 1) core::throw_input_error("--repeats must be at least 1");
    if (o_.warmup < 0) core::throw_input_error("--warmup must not be negative");
    shape_ = o_.model.kv_geometry(o_.block_size, 0);
    if (shape_.chunk_bytes() % 16 != 0) {
      throw core::Error(core::ErrorKind::kUnsupported,
                        "model " + o_.model.name + ": a chunk of " + std::to_string(shape_.chunk_bytes()) +
                            " bytes is not a multiple of 16; the copy kernels need 16-byte pieces");
    }
  }

  // Pools hold the largest request with room to spare after the fragmented pools are filled
  // to the occupancy: (1 - occupancy) * blocks >= 1.25 * largest request.
  void plan_pool_size() {
    const int64_t n_max = shape_.blocks_for_tokens(*std::max_element(o_.tokens.begin(), o_.tokens.end()));
    pool_blocks_ = static_cast<int64_t>(std::ceil(1.25 * static_cast<double>(n_max) / (1.0 - o_.occupancy))) + 16;
    const int64_t pools = (links_.has_src ? 1 : 0) + (links_.has_dst ? 1 : 0);
    const int64_t need = pools * (pool_blocks_ + n_max) * shape_.block_bytes() + 2 * o_.baseline_bytes;
    size_t free_bytes = 0, total_bytes = 0;
    FLOWKV_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    log_ << "bench-transfer: pools of " << pool_blocks_ << " blocks of " << shape_.block_bytes()
         << " bytes; needs about " << need / (1 << 20) << " MiB of " << free_bytes / (1 << 20)
         << " MiB free\n";
    if (static_cast<double>(need) > 0.95 * static_cast<double>(free_bytes)) {
      throw core::Error(core::ErrorKind::kUnsupported,
                        "bench-transfer needs about " + std::to_string(need >> 20) + " MiB of device memory, " +
                            std::to_string(free_bytes >> 20) +
                            " MiB are free: use fewer tokens or a lower --occupancy");
    }
  }

  nlohmann::json describe_device() {
    int device = 0;
    FLOWKV_CUDA_CHECK(cudaGetDevice(&device));
    cudaDeviceProp prop{};
    FLOWKV_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    int driver = 0, runtime = 0, nccl_version = 0;
    FLOWKV_CUDA_CHECK(cudaDriverGetVersion(&driver));
    FLOWKV_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
    FLOWKV_NCCL_CHECK(ncclGetVersion(&nccl_version));
    return {{"name", prop.name},
            {"compute_capability", std::to_string(prop.major) + "." + std::to_string(prop.minor)},
            {"multiprocessors", prop.multiProcessorCount},
            {"memory_bytes", static_cast<int64_t>(prop.totalGlobalMem)},
            {"l2_bytes", prop.l2CacheSize},
            {"cuda_driver_version", driver},
            {"cuda_runtime_version", runtime},
            {"nccl_version", nccl_version}};
  }

  void measure_baseline(TransferBenchReport& report) {
    const int64_t bytes = o_.baseline_bytes;
    DeviceBuffer src(links_.has_src ? bytes : 0);
    DeviceBuffer dst(links_.has_dst ? bytes : 0);
    if (links_.has_src) kernels::fill_pattern(src.data(), bytes, source_seed(o_.seed), nullptr);
    if (links_.has_dst) kernels::fill_pattern(dst.data(), bytes, poison_seed(o_.seed), nullptr);
    FLOWKV_CUDA_CHECK(cudaDeviceSynchronize());
    CudaTransport& t = links_.nccl ? static_cast<CudaTransport&>(*links_.nccl) : *links_.memcpy;
    Runner runner(t, links_, o_.timeout);
    const std::vector<core::Copy> copies{{0, 0, bytes}};
    std::vector<double> ms;
    int64_t calls = 0;
    for (int i = 0; i < o_.warmup + o_.repeats; ++i) {
      const double t_ms = runner.run(src.data(), dst.data(), copies, std::nullopt, calls);
      if (i >= o_.warmup) ms.push_back(t_ms);
    }
    if (links_.has_dst) {
      verify_destination(dst.data(), bytes, {{0, 0, bytes}}, o_.seed, "copy baseline");
    }
    report.baseline_bytes = bytes;
    report.baseline_median_ms = median(ms);
    report.baseline_gb_per_s = static_cast<double>(bytes) / (report.baseline_median_ms * 1e-3) / 1e9;
    log_ << "bench-transfer: copy baseline (" << t.name() << ", " << (bytes >> 20) << " MiB): "
         << report.baseline_median_ms << " ms, " << report.baseline_gb_per_s << " GB/s\n";
  }

  Side make_side(const MethodSpec& m, int side, int64_t n, bool local) {
    Side s;
    s.layout.kind = m.layout;
    s.layout.geometry = shape_;
    s.layout.geometry.num_blocks = pool_blocks_;
    // vLLM's paged pools come from a free list; FlowKV's block-contiguous ones from the
    // segment allocator.
    s.allocator = core::make_allocator(
        m.layout == LayoutKind::kPagedPerLayer ? core::AllocatorKind::kFreeList : core::AllocatorKind::kSegment,
        pool_blocks_);
    if (m.fragmented) {
      core::PoolHistoryOptions h;
      h.occupancy = o_.occupancy;
      h.seed = history_seed(o_.seed, side);
      core::fill_pool(*s.allocator, h);
    }
    FLOWKV_CHECK(s.allocator->allocate(n, s.request), "request does not fit in the bench pool");
    if (local) s.memory = DeviceBuffer(s.layout.geometry.pool_bytes());
    return s;
  }

  MethodResult run_method(const MethodSpec& m, int64_t n) {
    MethodResult r;
    r.key = m.key;
    r.engine = links_.nccl ? "nccl" : (m.fused ? "fused-kernel" : "memcpy");
    Side src = make_side(m, 0, n, links_.has_src);
    Side dst = make_side(m, 1, n, links_.has_dst);
    r.src_runs = runs_of(src.request);
    r.dst_runs = runs_of(dst.request);
    const std::vector<core::Copy> copies =
        core::plan_transfer(src.layout, src.request, dst.layout, dst.request, m.mode);
    const std::vector<int64_t> src_ids = expand_block_ids(src.request, pool_blocks_);
    const std::vector<int64_t> dst_ids = expand_block_ids(dst.request, pool_blocks_);

    std::optional<Runner::Staging> staging;
    DeviceBuffer src_ids_dev, dst_ids_dev, src_staging, dst_staging;
    if (m.mode == TransferMode::kPerLayer) {
      staging.emplace();
      staging->n = n;
      staging->src_layout = &src.layout;
      staging->dst_layout = &dst.layout;
      if (links_.has_src) {
        src_ids_dev = upload_ids(src_ids);
        src_staging = DeviceBuffer(n * shape_.block_bytes());
        staging->src_ids = src_ids_dev.as<int64_t>();
        staging->src_buffer = src_staging.data();
      }
      if (links_.has_dst) {
        dst_ids_dev = upload_ids(dst_ids);
        dst_staging = DeviceBuffer(n * shape_.block_bytes());
        staging->dst_ids = dst_ids_dev.as<int64_t>();
        staging->dst_buffer = dst_staging.data();
      }
      r.local_launches = (links_.has_src ? 1 : 0) + (links_.has_dst ? 1 : 0);
    }
    if (links_.has_src) kernels::fill_pattern(src.memory.data(), src.memory.bytes(), source_seed(o_.seed), nullptr);
    if (links_.has_dst) kernels::fill_pattern(dst.memory.data(), dst.memory.bytes(), poison_seed(o_.seed), nullptr);
    FLOWKV_CUDA_CHECK(cudaDeviceSynchronize());

    CudaTransport& t = links_.nccl ? static_cast<CudaTransport&>(*links_.nccl)
                               : (m.fused ? *links_.fused : *links_.memcpy);
    Runner runner(t, links_, o_.timeout);
    const std::vector<kernels::SegmentRow> expected =
        expected_rows(src.layout, src_ids, dst.layout, dst_ids);
    const std::string what = std::string(m.key) + " at " + std::to_string(n) + " blocks";
    // First run, then check: every expected byte written, nothing else touched.
    runner.run(src.memory.data(), dst.memory.data(), copies, staging, r.calls);
    if (links_.has_dst) verify_destination(dst.memory.data(), dst.memory.bytes(), expected, o_.seed, what);
    for (int i = 0; i < o_.warmup; ++i) {
      runner.run(src.memory.data(), dst.memory.data(), copies, staging, r.calls);
    }
    for (int i = 0; i < o_.repeats; ++i) {
      r.ms.push_back(runner.run(src.memory.data(), dst.memory.data(), copies, staging, r.calls));
    }
    // Again after the timed runs: no run wrote outside the request's blocks.
    if (links_.has_dst) verify_destination(dst.memory.data(), dst.memory.bytes(), expected, o_.seed, what);
    return r;
  }

  const TransferBenchOptions& o_;
  std::ostream& log_;
  Links links_;
  core::KvGeometry shape_;
  int64_t pool_blocks_ = 0;
};

}  // namespace

TransferBenchReport run_transfer_bench(const TransferBenchOptions& options, std::ostream& log) {
  return Bench(options, log).run();
}

}  // namespace flowkv::runtime
