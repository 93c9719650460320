// Which rank hosts each node of a multi-rank live run, and on which device.
//
// The scenario's "placement" gives every node a rank (and optionally a device); without it, the
// default: with as many ranks as nodes, node i on rank i (rank 0 also runs the controller); with
// one rank more, node i on rank i + 1 (rank 0 runs only the controller); any other count is an
// input error asking for a placement. Several nodes may share a rank (they share its device, as
// nodes of a single-process run share theirs). A rank's device is the placement's, else the
// rank's index among the ranks that host nodes on its host (so on a host of 8 GPUs, 8 hosting
// ranks take GPUs 0..7 whether or not rank 0 is among them). Pure: no MPI call.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/spec/scenario.h"

namespace flowkv::runtime {

struct RankLayout {
  int world_size = 1;
  std::vector<int> node_rank;                     // per node
  std::vector<std::vector<uint32_t>> rank_nodes;  // per rank: the nodes it hosts
  std::vector<int> rank_device;                   // per rank: its device (-1: hosts no node)
  std::vector<int> hosting_ranks;                 // ranks hosting a node, in rank order

  bool hosts_nodes(int rank) const { return !rank_nodes[static_cast<size_t>(rank)].empty(); }
  // "P0 D0" (the nodes of a rank), for messages.
  std::string node_names(const core::Scenario& s, int rank) const;
};

// `hosts`: every rank's host name (MpiSession::hosts()). Input errors name `placement.<node>`.
RankLayout place_nodes(const core::Scenario& scenario, int world_size, std::span<const std::string> hosts);

// Two hosting ranks on one GPU of one host (NCCL refuses them): an input error naming both.
void check_one_rank_per_gpu(const RankLayout& layout, std::span<const std::string> hosts);

}  // namespace flowkv::runtime
