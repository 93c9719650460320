// What `flowkv simulate` and `flowkv live` print: the summary table of a run, and the progress
// bar on the terminal.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>

#include "core/results/run.h"
#include "core/spec/scenario.h"

namespace flowkv::cli {

void print_run_summary(const core::Scenario& sc, const core::RunResult& r);

// A progress callback for core::RunOptions that redraws one line on stderr at most every
// `min_interval_s`; empty (no bar) when `quiet` or stderr is not a terminal.
std::function<void(int64_t, int64_t, int64_t)> progress_bar(bool quiet, double min_interval_s);
void clear_progress_bar(bool shown);

}  // namespace flowkv::cli
