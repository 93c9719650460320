#include "runtime/mpi/placement.h"

#include "core/base/error.h"

namespace flowkv::runtime {

std::string RankLayout::node_names(const core::Scenario& s, int rank) const {
  std::string names;
  for (const uint32_t n : rank_nodes[static_cast<size_t>(rank)]) names += (names.empty() ? "" : " ") + s.nodes[n].name;
  return names;
}

RankLayout place_nodes(const core::Scenario& s, int world_size, std::span<const std::string> hosts) {
  FLOWKV_CHECK(world_size >= 1 && static_cast<int>(hosts.size()) == world_size, "a host name per rank");
  const int nodes = static_cast<int>(s.nodes.size());
  RankLayout out;
  out.world_size = world_size;
  out.node_rank.assign(static_cast<size_t>(nodes), 0);
  out.rank_nodes.assign(static_cast<size_t>(world_size), {});
  out.rank_device.assign(static_cast<size_t>(world_size), -1);
  std::vector<int> device(static_cast<size_t>(nodes), -1);
  if (!s.placement.empty()) {
    for (int i = 0; i < nodes; ++i) {
      const core::NodePlacement& p = s.placement[static_cast<size_t>(i)];
      if (p.rank >= world_size) {
        core::throw_input_error("placement." + s.nodes[static_cast<size_t>(i)].name + ".rank: rank " +
                                std::to_string(p.rank) + " but the run has " + std::to_string(world_size) +
                                " ranks (0.." + std::to_string(world_size - 1) + ")");
      }
      out.node_rank[static_cast<size_t>(i)] = p.rank;
      device[static_cast<size_t>(i)] = p.device;
    }
  } else if (world_size == nodes || world_size == nodes + 1) {
    for (int i = 0; i < nodes; ++i) out.node_rank[static_cast<size_t>(i)] = i + (world_size - nodes);
  } else {
    core::throw_input_error("the scenario has " + std::to_string(nodes) + " nodes but the run " +
                            std::to_string(world_size) + " ranks: launch " + std::to_string(nodes) +
                            " ranks (node i on rank i), " + std::to_string(nodes + 1) +
                            " (rank 0 runs only the controller), or give the scenario a \"placement\" "
                            "(e.g. --set 'placement={\"P0\": 1, \"D0\": 2}')");
  }
  for (int i = 0; i < nodes; ++i) {
    const int r = out.node_rank[static_cast<size_t>(i)];
    out.rank_nodes[static_cast<size_t>(r)].push_back(static_cast<uint32_t>(i));
  }
  for (int r = 0; r < world_size; ++r) {
    if (!out.rank_nodes[static_cast<size_t>(r)].empty()) out.hosting_ranks.push_back(r);
  }
  for (const int r : out.hosting_ranks) {
    int local = 0;  // index among hosting ranks on the same host
    for (const int q : out.hosting_ranks) {
      if (q < r && hosts[static_cast<size_t>(q)] == hosts[static_cast<size_t>(r)]) ++local;
    }
    int chosen = -1;
    std::string first;
    for (const uint32_t n : out.rank_nodes[static_cast<size_t>(r)]) {
      const int d = device[n];
      if (d < 0) continue;
      if (chosen >= 0 && d != chosen) {
        core::throw_input_error("placement." + s.nodes[n].name + ".device: " + std::to_string(d) + ", but " + first +
                                " on the same rank " + std::to_string(r) + " has device " + std::to_string(chosen) +
                                " (one process drives one device)");
      }
      chosen = d;
      first = s.nodes[n].name;
    }
    out.rank_device[static_cast<size_t>(r)] = chosen >= 0 ? chosen : local;
  }
  return out;
}

void check_one_rank_per_gpu(const RankLayout& layout, std::span<const std::string> hosts) {
  for (size_t a = 0; a < layout.hosting_ranks.size(); ++a) {
    for (size_t b = a + 1; b < layout.hosting_ranks.size(); ++b) {
      const int ra = layout.hosting_ranks[a], rb = layout.hosting_ranks[b];
      if (hosts[static_cast<size_t>(ra)] == hosts[static_cast<size_t>(rb)] &&
          layout.rank_device[static_cast<size_t>(ra)] == layout.rank_device[static_cast<size_t>(rb)]) {
        core::throw_input_error("ranks " + std::to_string(ra) + " and " + std::to_string(rb) + " both use GPU " +
                                std::to_string(layout.rank_device[static_cast<size_t>(ra)]) + " of host " +
                                hosts[static_cast<size_t>(ra)] +
                                ": NCCL refuses two ranks on one GPU (place their nodes on one rank, or give each "
                                "rank its own device)");
      }
    }
  }
}

}  // namespace flowkv::runtime
