// Compiled instead of nccl_peer.cc when the build has no CUDA.
#include "core/base/error.h"
#include "runtime/mpi/nccl_peer.h"

namespace flowkv::runtime {

std::unique_ptr<Transport> make_nccl_peer_transport(MpiSession&, const RankLayout&, core::Duration) {
  throw core::Error(core::ErrorKind::kUnsupported,
                    "this flowkv was built without CUDA/NCCL: GPU ranks cannot exchange KV (--device cpu works)");
}

}  // namespace flowkv::runtime
