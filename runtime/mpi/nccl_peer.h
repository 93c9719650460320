// The data plane between GPU ranks of a multi-rank live run: one NcclTransport over the ranks
// that host nodes (NCCL rank = the index in RankLayout::hosting_ranks, so a controller-only
// rank 0 takes no GPU). The first hosting rank makes the NCCL unique id and sends it to the
// others over MPI (the session's data communicator, tag 0; every wait bounded by `timeout`).
// Collective over the hosting ranks: each calls it once, at startup, on its own GPU (the one
// made current: multi-rank `flowkv live` restricts CUDA_VISIBLE_DEVICES to the rank's GPU).
// The transport takes TransferDesc.peer as a world rank and translates it.
//
// In a build without CUDA the function exists and throws kUnsupported (nccl_peer_none.cc).
#pragma once

#include <memory>

#include "core/base/time.h"
#include "runtime/mpi/mpi_session.h"
#include "runtime/mpi/placement.h"
#include "runtime/transport.h"

namespace flowkv::runtime {

std::unique_ptr<Transport> make_nccl_peer_transport(MpiSession& session, const RankLayout& layout,
                                                    core::Duration timeout);

}  // namespace flowkv::runtime
