#include "runtime/mpi/nccl_peer.h"

#include <algorithm>

#include "core/base/error.h"
#include "runtime/cuda/nccl_transport.h"
#include "runtime/mpi/mpi_check.h"

namespace flowkv::runtime {
namespace {

constexpr int kUniqueIdTag = 0;  // MpiTransport's tags start at 1

// World ranks in, NCCL ranks out.
class PeerRankTransport final : public Transport {
 public:
  PeerRankTransport(std::unique_ptr<NcclTransport> inner, std::vector<int> hosting)
      : inner_(std::move(inner)), hosting_(std::move(hosting)) {}
  const char* name() const override { return inner_->name(); }
  TransferId submit(TransferDesc desc) override {
    const auto it = std::find(hosting_.begin(), hosting_.end(), desc.peer);
    FLOWKV_CHECK(it != hosting_.end(), "a GPU transfer with rank " + std::to_string(desc.peer) + ", which hosts no node");
    desc.peer = static_cast<int>(it - hosting_.begin());
    return inner_->submit(std::move(desc));
  }
  TransferState poll(TransferId id) override { return inner_->poll(id); }
  TransferState wait(TransferId id, core::Duration t) override { return inner_->wait(id, t); }
  void cancel(TransferId id) override { inner_->cancel(id); }
  std::string error(TransferId id) const override { return inner_->error(id); }
  void release(TransferId id) override { inner_->release(id); }
  int64_t calls(TransferId id) const override { return inner_->calls(id); }

 private:
  std::unique_ptr<NcclTransport> inner_;
  std::vector<int> hosting_;
};

}  // namespace

std::unique_ptr<Transport> make_nccl_peer_transport(MpiSession& session, const RankLayout& layout,
                                                    core::Duration timeout) {
  const std::vector<int>& hosting = layout.hosting_ranks;
  const auto me = std::find(hosting.begin(), hosting.end(), session.rank());
  FLOWKV_CHECK(me != hosting.end(), "an NCCL transport on a rank that hosts no node");
  RankInfo info;
  info.rank = static_cast<int>(me - hosting.begin());
  info.world_size = static_cast<int>(hosting.size());
  std::vector<std::byte> id;
  if (info.rank == 0) {
    id = NcclTransport::new_unique_id();
    std::vector<MPI_Request> sends(hosting.size() - 1, MPI_REQUEST_NULL);
    for (size_t i = 1; i < hosting.size(); ++i) {
      FLOWKV_MPI_CHECK(MPI_Isend(id.data(), static_cast<int>(id.size()), MPI_BYTE, hosting[i], kUniqueIdTag,
                                 session.data(), &sends[i - 1]));
    }
    for (MPI_Request& r : sends) wait_request(r, timeout, "send the NCCL unique id");
  } else {
    id.assign(NcclTransport::unique_id_bytes(), std::byte{0});
    MPI_Request r = MPI_REQUEST_NULL;
    FLOWKV_MPI_CHECK(MPI_Irecv(id.data(), static_cast<int>(id.size()), MPI_BYTE, hosting.front(), kUniqueIdTag,
                               session.data(), &r));
    wait_request(r, timeout, "receive the NCCL unique id from rank " + std::to_string(hosting.front()));
  }
  return std::make_unique<PeerRankTransport>(std::make_unique<NcclTransport>(info, id, timeout), hosting);
}

}  // namespace flowkv::runtime
