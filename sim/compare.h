// Several simulations side by side: `flowkv compare` (one workload, several global policies)
// and `flowkv sweep` (policies x arrival rates), run on parallel threads.
//
// Every run is a pure function of its scenario and trace (sim/run.h), so the files written are
// byte-identical whatever the number of threads; results are collected by index and everything
// printed or summarised is in the order given. Each policy's scenario is loaded with
// `policies.global` set to it, so the policy's profile (core/sched/policy_profile.h) applies.
// All scenarios are loaded and validated before the first run starts: a bad policy name or
// parameter fails the command before anything is written.
//
// Layouts (docs/scheduling.md; `flowkv report` reads them):
//   compare: OUT/compare.json = {"policies": [{"name", "summary"}]}, OUT/<policy>/{summary.json,
//            requests.csv, run.json, vllm.json[, timeline.json]}
//   sweep:   OUT/sweep.json = {"cells": [{"policy", "rate_scale", "rate_rps", "dir"}]},
//            OUT/<policy>/rate-<r>/{summary.json, requests.csv, run.json, vllm.json}; "dir" is relative to OUT
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/results/metrics.h"
#include "core/results/timeline.h"
#include "core/spec/scenario.h"
#include "sim/ranks.h"

namespace flowkv::sim {

// fn(i) for every i in [0, n) on up to `jobs` threads (jobs <= 0: one per hardware thread).
// When calls throw, the exception of the lowest index is rethrown once all have stopped; the
// indices not yet started are skipped.
void run_parallel(size_t n, int jobs, const std::function<void(size_t)>& fn);

// One finished simulation, as compare and sweep keep it (the request records are written out
// and dropped).
struct RunOutcome {
  std::string policy;
  std::filesystem::path dir;  // where its files are
  core::RunMetrics metrics;
  nlohmann::ordered_json summary;
};

// Whether each run also writes timeline.json into its folder (core/results/timeline.h).
struct TimelineRequest {
  bool wanted = false;
  std::optional<core::TimelineWindow> window;  // keep only the events touching it
};

struct CompareSpec {
  std::filesystem::path scenario;
  core::ScenarioOverrides overrides;  // applied to every policy's scenario; `policy` must be unset
  std::vector<std::string> policies;  // distinct, at least one
  std::filesystem::path out;
  int jobs = 0;
  TimelineRequest timeline;
  // Called after each run, serialised (from worker threads): (runs done, runs in all, policy).
  std::function<void(size_t, size_t, const std::string&)> progress;
};

std::vector<RunOutcome> run_compare(const CompareSpec& spec);

struct SweepSpec {
  std::filesystem::path scenario;
  core::ScenarioOverrides overrides;
  std::vector<std::string> policies;
  // Arrival rates in requests/s (the workload is rescaled so that its mean rate, requests over
  // span, is each value) or, with `rates_are_scales`, multipliers of the scenario's own rate.
  std::vector<double> rates;
  std::vector<std::string> rate_labels;  // as the user wrote them: they name the folders
  bool rates_are_scales = false;
  std::filesystem::path out;
  int jobs = 0;
  std::function<void(size_t, size_t, const std::string&)> progress;
  // With several ranks (an MPI launch, sim/ranks.h) cell i runs on rank i % size, its files
  // travel to rank 0, which writes every folder and sweep.json: the same bytes as one process.
  // run_sweep then returns the cells on rank 0 only (an empty list elsewhere).
  Ranks* ranks = nullptr;
};

struct SweepCell {
  std::string policy;
  std::string rate_label;
  double rate_scale = 1;  // workload.rate_scale the cell ran with
  double rate_rps = 0;    // mean arrival rate of the cell's trace (requests / span)
  RunOutcome run;
};

std::vector<SweepCell> run_sweep(const SweepSpec& spec);

// "a,b,c" -> {"a", "b", "c"}; empty items and duplicates are input errors naming `flag`.
std::vector<std::string> split_list(const std::string& text, const std::string& flag);

}  // namespace flowkv::sim
