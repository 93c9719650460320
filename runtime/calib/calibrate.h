// Calibration: timing a real executor and transport over a grid of batch shapes, what
// `flowkv calibrate` writes as a profile (core/spec/calibration_profile.h) for the simulator's
// calibrated cost model (sim/calibrated_model.h). docs/calibration.md describes the grid.
//
// What is timed is what a live iteration costs on its node's worker: NodeExecutor::run over a
// pool laid out like the scenario's (each layout asked for), with items whose blocks are runs of
// consecutive block ids (what the segment allocator hands out), synchronised (run() returns when
// the device is done), the median of the repeats after warm-up runs. Transfers: the device's
// Transport moving `calls` copies of `bytes / calls` between two nodes' pools, submit to wait.
// The live backend's own overhead (building the work, the hand-offs to the worker and back, the
// controller's bookkeeping) is measured by a short live run of the probe scenario with every
// request arriving at once: the gaps between one iteration's end and the next one's start on a
// busy node, and each KV transfer's time as the controller saw it.
//
// Runs on the calling thread (the executor's own threads do the work); the device must not be
// running anything else. Failures of the device are core::Error(kRuntime); a grid the device
// cannot hold is trimmed (points that do not fit the pool are skipped and counted).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/kv/kv_layout.h"
#include "core/spec/calibration_profile.h"
#include "core/spec/model_spec.h"
#include "core/spec/scenario.h"
#include "runtime/executor.h"

namespace flowkv::runtime {

struct CalibrationGrid {
  std::vector<core::LayoutKind> layouts = {core::LayoutKind::kBlockContiguous, core::LayoutKind::kPagedPerLayer};
  int32_t block_size = 16;
  int64_t max_tokens = 8192;   // tokens of one iteration (policies.batch.max_batched_tokens)
  int64_t max_batch = 64;      // decode steps of one iteration (max_num_seqs / max_decode_batch)
  int64_t max_context = 4096;  // the longest context a request reaches (prompt + output)
  // Values per axis: prefill chunk sizes, decode batch sizes and contexts, mixed shapes.
  int32_t density = 5;
  int32_t warmup = 1;
  int32_t repeats = 5;
  // Stop repeating a point once its timed runs add up to this (at least one timed run).
  double point_budget_s = 1.0;
  bool transfers = true;
  uint64_t seed = 1;
};

// One point of the grid: prefill chunks (new tokens, cached context) and decode contexts.
struct GridPoint {
  std::vector<std::pair<int64_t, int64_t>> prefill;
  std::vector<int64_t> decode;
  core::IterationShape shape() const;
  int64_t blocks(int32_t block_size) const;  // blocks the items need, each its own run
};

// The grid, in the order it is timed: prefill, decode, mixed. Pure.
std::vector<GridPoint> iteration_grid(const CalibrationGrid& grid);
// (calls, bytes) pairs of the transfer grid for copies of `piece_bytes` upward. Pure.
std::vector<std::pair<int64_t, int64_t>> transfer_grid(const CalibrationGrid& grid, int64_t piece_bytes,
                                                       int64_t max_bytes);

struct CalibrationProgress {
  std::string what;  // "contiguous prefill", "transfers", ...
  int64_t done = 0, total = 0;
};

// Times the grid on `device` (a node of each layout, made and released in turn) and returns the
// profile without its overhead part and command (which the caller fills in).
core::CalibrationProfile calibrate_executor(Device& device, const core::ModelSpec& model, const CalibrationGrid& grid,
                                            const std::function<void(const CalibrationProgress&)>& progress = {});

// The overhead part: a short live run of `probe` (its cluster, layout and policies) on `device`
// with `requests` requests arriving at once, prompts and outputs drawn from the seed. Fills
// profile.overhead_gaps_s, overhead_transfers and overhead_detail (how they were measured).
void measure_live_overhead(Device& device, const core::Scenario& probe, int32_t requests, core::CalibrationProfile& profile);

}  // namespace flowkv::runtime
