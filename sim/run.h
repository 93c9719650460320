// Running a scenario end to end in the simulator: the entry point of `flowkv simulate` and of
// anything that runs many simulations (compare, sweep, benchmarks).
//
// simulate() builds a SimBackend and runs the scenario's controller over it to the end
// (core::run_controller); core::write_run_files writes the result folder. It uses no global
// state: several simulations may run at once on different threads (each with its own Scenario
// or sharing a const one).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <ostream>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/results/run.h"
#include "core/spec/scenario.h"
#include "traces/trace.h"

namespace flowkv::sim {

// The scenario's workload resolved (trace file or generator, with its transforms).
traces::Trace load_scenario_trace(const core::Scenario& scenario);

// The run driver is shared with the live backend (core/results/run.h).
using SimOptions = core::RunOptions;
using SimResult = core::RunResult;

SimResult simulate(const core::Scenario& scenario, const traces::Trace& trace, const SimOptions& options = {});

}  // namespace flowkv::sim
