// The report's fidelity figures (tools/report/fidelity.h): per request, the simulated latency
// against the measured one with the y = x diagonal, and the two runs' CDFs overlaid. Pure and
// deterministic like the other figures (report_plots.h); at most `max_points` points a series.
#pragma once

#include <string>

#include "tools/report/fidelity.h"
#include "tools/report/svg_plot.h"

namespace flowkv::report {

enum class FidelityMetric { kTtft, kTpot, kE2e };

// id "fidelity-<metric>-<index>": one dot per request completed in both runs.
XYPlot fidelity_scatter(const FidelityResult& f, FidelityMetric metric, int index, size_t max_points = 1500);
// id "fidelity-cdf-<metric>-<index>": the live run's and the simulation's CDFs.
XYPlot fidelity_cdf(const FidelityResult& f, FidelityMetric metric, int index, size_t max_points = 400);

}  // namespace flowkv::report
