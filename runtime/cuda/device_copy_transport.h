// DeviceCopyTransport: moves a plan's copies within one GPU, on one stream of its own.
//
// Engines:
//  - kMemcpy: one cudaMemcpyAsync (device to device) per planned copy: what the simulator's
//    per-call cost models, and the per-block baseline when the plan has 2 * L * N copies;
//  - kFusedKernel: all copies in ONE launch of kernels::segment_copy. The copy table goes
//    through a pinned host buffer lent to the transfer until it completes (an upload from
//    pageable memory would make submit() wait for all earlier work on the stream) into a
//    grow-only device buffer of the transport, reused in stream order; the upload is part of
//    the transfer's cost. Needs offsets and sizes that are multiples of 16 bytes
//    (kUnsupported otherwise).
//
// Completion is a CUDA event after the transfer's last operation. Device work cannot be
// recalled: a transfer that times out or is canceled keeps running on the stream; release()
// of such a transfer waits for that work, so its buffers can be reused afterwards. A CUDA error
// seen while polling marks the transfer kFailed and the transport broken (later submits throw).
#pragma once

#include <cuda_runtime_api.h>

#include <string>
#include <vector>

#include "runtime/cuda/cuda_handles.h"
#include "runtime/cuda/cuda_transport.h"
#include "runtime/cuda/transfer_records.h"

namespace flowkv::runtime {

enum class CopyEngine { kMemcpy, kFusedKernel };
const char* to_string(CopyEngine engine);

class DeviceCopyTransport final : public CudaTransport {
 public:
  explicit DeviceCopyTransport(CopyEngine engine);
  ~DeviceCopyTransport() override;

  const char* name() const override;
  TransferId submit(TransferDesc desc) override;
  TransferState poll(TransferId id) override;
  TransferState wait(TransferId id, core::Duration timeout) override;
  void cancel(TransferId id) override;
  std::string error(TransferId id) const override;
  void release(TransferId id) override;
  int64_t calls(TransferId id) const override;
  cudaStream_t stream() const override { return stream_.get(); }

  CopyEngine engine() const { return engine_; }

 private:
  TransferState probe(TransferRecord& record);
  int acquire_staging(int64_t bytes);  // a free pinned slot of at least `bytes`
  void release_staging(TransferRecord& record);

  // Pinned slots allocated by the constructor (cudaMallocHost waits for an idle device, so
  // allocating in submit() would make it wait for earlier work): 4 transfers in flight with
  // tables of up to 64 KiB (2,048 rows) each before submit() allocates.
  static constexpr int kInitialStagingSlots = 4;
  static constexpr int64_t kInitialStagingBytes = 64 << 10;

  struct PinnedSlot {
    void* data = nullptr;
    int64_t capacity = 0;
    bool in_use = false;
  };

  CopyEngine engine_;
  CudaStream stream_;
  TransferRecords records_;
  std::string broken_;  // why the transport cannot be used any more ("" while healthy)
  std::vector<PinnedSlot> staging_;  // host copies of the tables of transfers in flight
  void* table_ = nullptr;       // kernels::SegmentRow[], device memory, for kFusedKernel
  int64_t table_capacity_ = 0;  // bytes
};

}  // namespace flowkv::runtime
