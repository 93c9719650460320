// `flowkv live` over MPI ranks (MPI builds): rank 0 runs the controller and writes the results;
// every rank hosts the nodes its placement names (runtime/mpi/mpi_live.h).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/base/error.h"
#include "runtime/mpi/mpi_live.h"
#include "sim/run.h"
#include "tools/flowkv/live_ranks.h"
#include "tools/flowkv/run_summary.h"

namespace flowkv::cli {
namespace {

// One process drives one GPU: the rank sees only its own (CUDA_VISIBLE_DEVICES narrowed to it,
// before CUDA starts), so every thread of the process, and NCCL, use device 0 = that GPU.
void narrow_visible_gpus(int ordinal) {
  std::string pick = std::to_string(ordinal);
  if (const char* visible = std::getenv("CUDA_VISIBLE_DEVICES"); visible != nullptr && *visible != '\0') {
    std::string list = visible;
    int index = 0;
    size_t at = 0;
    pick.clear();
    while (at <= list.size()) {
      const size_t comma = std::min(list.find(',', at), list.size());
      if (index++ == ordinal) pick = list.substr(at, comma - at);
      at = comma + 1;
    }
    if (pick.empty()) {
      core::throw_input_error("GPU " + std::to_string(ordinal) + " of this rank is not among CUDA_VISIBLE_DEVICES=" +
                              list);
    }
  }
  setenv("CUDA_VISIBLE_DEVICES", pick.c_str(), 1);
}

int nodes_on_my_host(const runtime::RankLayout& layout, const runtime::MpiSession& session) {
  int n = 0;
  for (int r = 0; r < session.size(); ++r) {
    if (session.host(r) == session.host(session.rank())) n += static_cast<int>(layout.rank_nodes[static_cast<size_t>(r)].size());
  }
  return std::max(n, 1);
}

}  // namespace

int live_over_ranks(const LiveCommand& command, const runtime::LaunchEnv& env) {
  runtime::MpiSession session(core::Duration::from_seconds(command.startup_timeout_s));
  const int rank = session.rank();
  try {
    const core::Scenario& scenario = command.scenario;
    runtime::MpiLiveOptions o;
    o.run = command.run;
    o.plane.heartbeat_timeout = core::Duration::from_seconds(command.heartbeat_timeout_s);
    o.plane.startup_timeout = core::Duration::from_seconds(command.startup_timeout_s);
    o.gpu = command.device.kind == "cuda";
    o.recovery = env.recovery;
    o.make_device = [&](const runtime::RankLayout& layout) {
      LiveDeviceOptions d = command.device;
      d.nodes = nodes_on_my_host(layout, session);
      if (d.kind == "cuda") {
        narrow_visible_gpus(layout.rank_device[static_cast<size_t>(rank)]);
        d.gpu = 0;
      }
      return make_live_device(scenario.model, d);
    };
    if (rank != 0) {
      runtime::MpiLive live(session, scenario, std::move(o));
      return live.end_rank(live.serve());
    }
    const traces::Trace trace = sim::load_scenario_trace(scenario);
    core::OutputDir dir(command.out);
    if (command.timeline) o.run.run.timeline = &dir.open("timeline.json");
    o.run.run.progress = progress_bar(command.quiet, 0.5);
    o.run.run.progress_shift = 3;
    const bool progress = static_cast<bool>(o.run.run.progress);
    runtime::MpiLive live(session, scenario, std::move(o));
    std::fprintf(stderr, "live: %zu requests on %zu nodes over %d ranks (rank 0: the controller%s), device %s\n",
                 trace.requests.size(), scenario.nodes.size(), session.size(),
                 live.layout().hosts_nodes(0) ? (" and " + live.layout().node_names(scenario, 0)).c_str() : "",
                 command.device.kind.c_str());
    const runtime::LiveRunResult result = live.run(trace);
    clear_progress_bar(progress);
    report_live(command, result, dir);
    return live.end_controller(0);
  } catch (const core::Error& e) {
    std::fprintf(stderr, "flowkv live (rank %d of %d): error: %s\n", rank, session.size(), e.what());
    runtime::MpiLive::abandon_ranks(session);
    session.abort(e.exit_code());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "flowkv live (rank %d of %d): internal error: %s\n", rank, session.size(), e.what());
    runtime::MpiLive::abandon_ranks(session);
    session.abort(1);
  }
}

}  // namespace flowkv::cli
