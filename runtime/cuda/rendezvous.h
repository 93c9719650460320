// How ranks find each other: RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT, as torchrun and
// `flowkv` set them, and a small TCP exchange from rank 0 (used for the NCCL unique id).
//
// rank_info_from_env() validates the variables where they enter (core::Error kInvalidInput
// naming the variable and what was expected). broadcast_from_rank0() is collective: rank 0
// listens on MASTER_PORT, accepts WORLD_SIZE - 1 connections and sends its blob to each;
// every other rank connects to MASTER_ADDR:MASTER_PORT (retrying until rank 0 listens) and
// receives it. Every step is bounded by the timeout (core::Error kRuntime when it passes or a
// socket call fails). Plain C++ and POSIX sockets: runs, and is tested, without a GPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/base/time.h"

namespace flowkv::runtime {

struct RankInfo {
  int rank = 0;
  int world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
};

// `getenv` is injectable for tests. Unset RANK and WORLD_SIZE mean a single rank (0 of 1);
// MASTER_ADDR / MASTER_PORT default to 127.0.0.1:29500 and are needed only when WORLD_SIZE > 1.
RankInfo rank_info_from_env(const std::function<const char*(const char*)>& getenv);
RankInfo rank_info_from_env();

// Returns rank 0's blob on every rank (rank 0 gets its own back). With world_size 1 no socket
// is opened.
std::vector<std::byte> broadcast_from_rank0(const RankInfo& info, std::span<const std::byte> blob,
                                            core::Duration timeout);

}  // namespace flowkv::runtime
