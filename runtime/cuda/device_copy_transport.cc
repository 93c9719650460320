#include "runtime/cuda/device_copy_transport.h"

#include <algorithm>
#include <cstring>

#include "core/base/error.h"
#include "kernels/cuda_check.h"
#include "kernels/segment_copy.h"

namespace flowkv::runtime {

const char* to_string(CopyEngine engine) {
  return engine == CopyEngine::kMemcpy ? "memcpy" : "fused-kernel";
}

DeviceCopyTransport::DeviceCopyTransport(CopyEngine engine) : engine_(engine) {
  // cudaMallocHost waits for the device to go idle, so a pinned slot allocated in submit() would
  // make submit wait for work already on the stream. A few slots are allocated now, while nothing
  // runs; submit() allocates only when more transfers are in flight, or a table is larger.
  if (engine_ == CopyEngine::kFusedKernel) {
    kernels::segment_copy_preload();  // its lazy loading would wait for the device too
    FLOWKV_CUDA_CHECK(cudaMallocAsync(&table_, static_cast<size_t>(kInitialStagingBytes), stream_.get()));
    table_capacity_ = kInitialStagingBytes;
    FLOWKV_CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
    staging_.resize(kInitialStagingSlots);
    for (PinnedSlot& slot : staging_) {
      FLOWKV_CUDA_CHECK(cudaMallocHost(&slot.data, static_cast<size_t>(kInitialStagingBytes)));
      slot.capacity = kInitialStagingBytes;
    }
  }
}

DeviceCopyTransport::~DeviceCopyTransport() {
  // Work still on the stream may write into buffers the caller is about to free.
  cudaStreamSynchronize(stream_.get());
  if (table_) cudaFree(table_);
  for (PinnedSlot& slot : staging_) cudaFreeHost(slot.data);
}

int DeviceCopyTransport::acquire_staging(int64_t bytes) {
  int best = -1;
  for (int i = 0; i < static_cast<int>(staging_.size()); ++i) {
    const PinnedSlot& slot = staging_[static_cast<size_t>(i)];
    if (!slot.in_use && slot.capacity >= bytes &&
        (best < 0 || slot.capacity < staging_[static_cast<size_t>(best)].capacity)) {
      best = i;
    }
  }
  if (best < 0) {
    // Replace a free slot that is too small, or add one; pinned allocations are slow (about a
    // millisecond), so slots are kept and reused.
    for (int i = 0; i < static_cast<int>(staging_.size()) && best < 0; ++i) {
      if (!staging_[static_cast<size_t>(i)].in_use) best = i;
    }
    if (best < 0) {
      staging_.emplace_back();
      best = static_cast<int>(staging_.size()) - 1;
    }
    PinnedSlot& slot = staging_[static_cast<size_t>(best)];
    if (slot.data) FLOWKV_CUDA_CHECK(cudaFreeHost(slot.data));
    slot.data = nullptr;
    slot.capacity = 0;
    const int64_t capacity = std::max<int64_t>(bytes * 2, kInitialStagingBytes);
    FLOWKV_CUDA_CHECK(cudaMallocHost(&slot.data, static_cast<size_t>(capacity)));
    slot.capacity = capacity;
  }
  staging_[static_cast<size_t>(best)].in_use = true;
  return best;
}

void DeviceCopyTransport::release_staging(TransferRecord& record) {
  if (record.staging_slot >= 0) staging_[static_cast<size_t>(record.staging_slot)].in_use = false;
  record.staging_slot = -1;
}

const char* DeviceCopyTransport::name() const {
  return engine_ == CopyEngine::kMemcpy ? "device-copy/memcpy" : "device-copy/fused-kernel";
}

TransferId DeviceCopyTransport::submit(TransferDesc desc) {
  if (!broken_.empty()) {
    throw core::Error(core::ErrorKind::kRuntime, "device copy transport is broken: " + broken_);
  }
  FLOWKV_CHECK(desc.copies.empty() || (desc.src != nullptr && desc.dst != nullptr),
               "device copy needs both a source and a destination buffer");
  for (const core::Copy& c : desc.copies) {
    FLOWKV_CHECK(c.bytes >= 0 && c.src_offset >= 0 && c.dst_offset >= 0,
                 "negative copy offset or size");
  }
  TransferRecord record;
  cudaStream_t s = stream_.get();
  // A failed submission gives back the staging slot it took (the transport is unusable anyway
  // if the device failed, but a bad argument should not leak).
  struct SlotGuard {
    DeviceCopyTransport* self;
    TransferRecord* record;
    ~SlotGuard() {
      if (record) self->release_staging(*record);
    }
  } guard{this, &record};
  if (engine_ == CopyEngine::kMemcpy) {
    for (const core::Copy& c : desc.copies) {
      if (c.bytes == 0) continue;
      FLOWKV_CUDA_CHECK(cudaMemcpyAsync(desc.dst + c.dst_offset, desc.src + c.src_offset,
                                        static_cast<size_t>(c.bytes), cudaMemcpyDeviceToDevice, s));
      ++record.calls;
    }
  } else {
    const kernels::SegmentTable table = kernels::build_segment_table(desc.copies);
    if (table.num_tiles > 0) {
      const int64_t table_bytes = static_cast<int64_t>(table.rows.size() * sizeof(kernels::SegmentRow));
      if (table_bytes > table_capacity_) {
        // Grow in stream order: kernels already enqueued may still read the old table.
        if (table_) FLOWKV_CUDA_CHECK(cudaFreeAsync(table_, s));
        table_ = nullptr;
        table_capacity_ = 0;
        FLOWKV_CUDA_CHECK(cudaMallocAsync(&table_, static_cast<size_t>(table_bytes) * 2, s));
        table_capacity_ = table_bytes * 2;
      }
      // One device table per transport is enough: its transfers run in stream order, so the
      // next upload lands after the previous kernel has read the table. The host side is a
      // pinned slot held by this transfer until it completes, so the copy is truly async.
      record.staging_slot = acquire_staging(table_bytes);
      void* host = staging_[static_cast<size_t>(record.staging_slot)].data;
      std::memcpy(host, table.rows.data(), static_cast<size_t>(table_bytes));
      FLOWKV_CUDA_CHECK(cudaMemcpyAsync(table_, host, static_cast<size_t>(table_bytes),
                                        cudaMemcpyHostToDevice, s));
      kernels::segment_copy({static_cast<const kernels::SegmentRow*>(table_),
                             static_cast<int64_t>(table.rows.size()), table.num_tiles},
                            desc.src, desc.dst, s);
      record.calls = 1;
    }
  }
  record.done.record(s);
  record.work_enqueued = true;
  guard.record = nullptr;
  return records_.add(std::move(record));
}

TransferState DeviceCopyTransport::probe(TransferRecord& record) {
  if (record.state != TransferState::kPending) return record.state;
  const cudaError_t status = cudaEventQuery(record.done.get());
  if (status == cudaSuccess) {
    record.state = TransferState::kCompleted;
    release_staging(record);
  } else if (status != cudaErrorNotReady) {
    record.state = TransferState::kFailed;
    record.error = std::string("CUDA error while the copy ran: ") + cudaGetErrorName(status) +
                   " (" + cudaGetErrorString(status) + ")";
    broken_ = record.error;
    cudaGetLastError();
    release_staging(record);
  }
  return record.state;
}

TransferState DeviceCopyTransport::poll(TransferId id) { return probe(records_.get(id)); }

TransferState DeviceCopyTransport::wait(TransferId id, core::Duration timeout) {
  TransferRecord& record = records_.get(id);
  const TransferState s = poll_until([&] { return probe(record); }, timeout);
  if (s == TransferState::kPending) {
    record.state = TransferState::kTimedOut;
    record.error = "not complete after " + std::to_string(timeout.millis()) + " ms";
  }
  return record.state;
}

void DeviceCopyTransport::cancel(TransferId id) {
  TransferRecord& record = records_.get(id);
  if (probe(record) == TransferState::kPending) {
    record.state = TransferState::kCanceled;
    record.error = "canceled while pending (the enqueued copies still run)";
  }
}

std::string DeviceCopyTransport::error(TransferId id) const { return records_.get(id).error; }

void DeviceCopyTransport::release(TransferId id) {
  TransferRecord& record = records_.get(id);
  FLOWKV_CHECK(record.state != TransferState::kPending, "release of a pending transfer");
  if ((record.state == TransferState::kTimedOut || record.state == TransferState::kCanceled) &&
      record.work_enqueued) {
    // The copies may still be writing into the caller's buffers.
    FLOWKV_CUDA_CHECK(cudaEventSynchronize(record.done.get()));
  }
  release_staging(record);
  records_.erase(id);
}

int64_t DeviceCopyTransport::calls(TransferId id) const { return records_.get(id).calls; }

}  // namespace flowkv::runtime
