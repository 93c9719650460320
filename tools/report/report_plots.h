// The report's figures, built from loaded results (results.h) as plot descriptions
// (svg_plot.h). One function per figure; each is deterministic, and downsamples big runs
// deterministically (by rank or by row order, never at random) so that the page stays small.
//
// Series order and colours follow the runs' order in ReportInput::runs (and the policies' first
// appearance in a sweep), so a policy keeps its colour in every figure of the page.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tools/report/results.h"
#include "tools/report/svg_plot.h"

namespace flowkv::report {

enum class LatencyMetric { kTtft, kTpot, kE2e, kQueue };

// Empirical CDF of a per-request latency over completed requests, one line per run, with the
// SLO marked (TTFT, TPOT): drawn as a rule when it lies within twice the largest value, else
// named at the right edge ("off the scale") so that it does not squash the curves. At most
// `max_points` points per line (quantiles, extremes kept).
XYPlot latency_cdf(const std::vector<Run>& runs, LatencyMetric metric, size_t max_points = 400);

// Per sweep, against the offered request rate: throughput, goodput, SLO attainment, p90 TTFT,
// p90 TPOT (one line per policy), and the highest rate each policy sustains at >= 90% SLO
// attainment (bars). Empty when there is no sweep.
struct SweepFigures {
  std::vector<XYPlot> plots;
  std::optional<BarChart> max_rate;
};
SweepFigures sweep_figures(const std::vector<Sweep>& sweeps);

// Per node (categories) and run (bars): busy fraction; KV usage, mean (bar) and peak (marker).
BarChart node_utilization(const std::vector<Run>& runs);
BarChart node_kv_usage(const std::vector<Run>& runs);

// KV usage over time from a run's timeline.json: one line per node, role flips marked.
// nullopt when the run has no timeline or the timeline has no KV counter.
std::optional<XYPlot> kv_over_time(const Run& run, int run_index, size_t max_points = 600);

// KV transfer time against prompt length, per run: a scatter of at most `max_points` requests
// per run (every k-th row) and the median per prompt-length bin over all requests.
XYPlot transfer_scatter(const std::vector<Run>& runs, size_t max_points = 1500);

// A plan's candidates run to the end: goodput against cost per hour, rejected and feasible
// ones as dots, the frontier as a line, the chosen shape marked, the offered rate as a rule.
XYPlot plan_cost_goodput(const Plan& plan, int plan_index);

// The SLO as short text: "TTFT ≤ 2 s and TPOT ≤ 100 ms" ("" when unknown).
std::string slo_text(const RunSummary& s);

}  // namespace flowkv::report
