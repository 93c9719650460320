#include "runtime/mpi/mpi_transport.h"

#include <algorithm>
#include <chrono>

#include "core/base/error.h"
#include "runtime/mpi/mpi_check.h"

namespace flowkv::runtime {

MpiTransport::MpiTransport(MPI_Comm comm, int tag_ub) : comm_(comm), tag_ub_(std::max(tag_ub, 2)) {
  FLOWKV_MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
}

MpiTransport::~MpiTransport() {
  for (auto& [id, r] : transfers_) {
    if (r.state == TransferState::kPending) abandon(r, TransferState::kCanceled, "transport destroyed");
  }
}

int MpiTransport::mpi_tag(uint64_t tag, int tag_ub) {
  return 1 + static_cast<int>(tag % static_cast<uint64_t>(tag_ub - 1));
}

TransferId MpiTransport::submit(TransferDesc desc) {
  const bool send = desc.src != nullptr;
  const bool recv = desc.dst != nullptr;
  FLOWKV_CHECK(send != recv, "an MPI transfer either sends (src) or receives (dst), not both");
  FLOWKV_CHECK(desc.peer >= 0 && desc.peer != rank_, "an MPI transfer needs another rank as its peer");
  const int tag = mpi_tag(desc.tag, tag_ub_);
  Record r;
  try {
    for (const core::Copy& c : desc.copies) {
      FLOWKV_CHECK(c.src_offset >= 0 && c.dst_offset >= 0 && c.bytes >= 0, "negative copy offset or size");
      for (int64_t done = 0; done < c.bytes; done += kMpiMaxMessageBytes) {
        const int n = static_cast<int>(std::min(kMpiMaxMessageBytes, c.bytes - done));
        MPI_Request q = MPI_REQUEST_NULL;
        if (send) {
          FLOWKV_MPI_CHECK(MPI_Isend(desc.src + c.src_offset + done, n, MPI_BYTE, desc.peer, tag, comm_, &q));
        } else {
          FLOWKV_MPI_CHECK(MPI_Irecv(desc.dst + c.dst_offset + done, n, MPI_BYTE, desc.peer, tag, comm_, &q));
        }
        r.requests.push_back(q);
        ++r.calls;
      }
    }
  } catch (const core::Error& e) {
    if (e.kind() == core::ErrorKind::kInternal) {
      abandon(r, TransferState::kFailed, e.what());
      throw;
    }
    abandon(r, TransferState::kFailed, e.what());
  }
  if (r.requests.empty() && r.state == TransferState::kPending) r.state = TransferState::kCompleted;
  const uint64_t id = next_id_++;
  transfers_.emplace(id, std::move(r));
  return TransferId{id};
}

MpiTransport::Record& MpiTransport::record(TransferId id) {
  auto it = transfers_.find(static_cast<uint64_t>(id));
  FLOWKV_CHECK(it != transfers_.end(), "unknown MPI transfer " + std::to_string(static_cast<uint64_t>(id)));
  return it->second;
}

const MpiTransport::Record& MpiTransport::record(TransferId id) const {
  auto it = transfers_.find(static_cast<uint64_t>(id));
  FLOWKV_CHECK(it != transfers_.end(), "unknown MPI transfer " + std::to_string(static_cast<uint64_t>(id)));
  return it->second;
}

void MpiTransport::abandon(Record& r, TransferState state, const std::string& why) {
  for (MPI_Request& q : r.requests) {
    if (q == MPI_REQUEST_NULL) continue;
    MPI_Cancel(&q);
    MPI_Request_free(&q);
  }
  r.requests.clear();
  r.state = state;
  r.error = why;
}

TransferState MpiTransport::poll(TransferId id) {
  Record& r = record(id);
  if (r.state != TransferState::kPending) return r.state;
  // MPI moves data only inside MPI calls: keep calling while messages complete (a rendezvous
  // message needs several rounds on both sides), and for a short while after, so a transfer of
  // many copies is not paced by the caller's sleeps between polls.
  using Clock = std::chrono::steady_clock;
  auto quiet_since = Clock::now();
  std::vector<int> done_index(r.requests.size());
  for (;;) {
    int count = 0;
    const int rc = MPI_Testsome(static_cast<int>(r.requests.size()), r.requests.data(), &count, done_index.data(),
                                MPI_STATUSES_IGNORE);
    if (rc != MPI_SUCCESS) {
      char text[MPI_MAX_ERROR_STRING] = {};
      int n = 0;
      MPI_Error_string(rc, text, &n);
      abandon(r, TransferState::kFailed, "MPI_Testsome: " + std::string(text, static_cast<size_t>(n)));
      return r.state;
    }
    if (count == MPI_UNDEFINED) {  // every request is complete
      r.requests.clear();
      r.state = TransferState::kCompleted;
      return r.state;
    }
    const auto now = Clock::now();
    if (count > 0) {
      quiet_since = now;
    } else if (now - quiet_since > std::chrono::microseconds(100)) {
      return r.state;
    }
  }
}

TransferState MpiTransport::wait(TransferId id, core::Duration timeout) {
  const TransferState s = poll_until([&] { return poll(id); }, timeout);
  if (s == TransferState::kPending) {
    abandon(record(id), TransferState::kTimedOut,
            "transfer not complete after " + std::to_string(timeout.millis()) + " ms");
  }
  return record(id).state;
}

void MpiTransport::cancel(TransferId id) {
  Record& r = record(id);
  if (poll(id) == TransferState::kPending) abandon(r, TransferState::kCanceled, "transfer canceled");
}

std::string MpiTransport::error(TransferId id) const { return record(id).error; }

void MpiTransport::release(TransferId id) {
  FLOWKV_CHECK(record(id).state != TransferState::kPending, "release of a pending MPI transfer");
  transfers_.erase(static_cast<uint64_t>(id));
}

int64_t MpiTransport::calls(TransferId id) const { return record(id).calls; }

}  // namespace flowkv::runtime
