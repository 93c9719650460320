#include "tools/report/fidelity_plots.h"

#include <algorithm>
#include <cmath>

namespace flowkv::report {
namespace {

struct MetricInfo {
  const char* key;
  const char* title;
  double RequestPair::*live;
  double RequestPair::*sim;
};

MetricInfo info(FidelityMetric m) {
  switch (m) {
    case FidelityMetric::kTtft:
      return {"ttft", "TTFT", &RequestPair::ttft_live, &RequestPair::ttft_sim};
    case FidelityMetric::kTpot:
      return {"tpot", "TPOT", &RequestPair::tpot_live, &RequestPair::tpot_sim};
    case FidelityMetric::kE2e:
      break;
  }
  return {"e2e", "E2E", &RequestPair::e2e_live, &RequestPair::e2e_sim};
}

// Log axes when the values spread over more than 50x (long outputs make E2E do so).
Scale scale_for(const std::vector<double>& v) {
  double lo = INFINITY, hi = 0;
  for (const double x : v) {
    if (x > 0 && std::isfinite(x)) {
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
  }
  return hi > 0 && hi / lo > 50 ? Scale::kLog : Scale::kLinear;
}

}  // namespace

XYPlot fidelity_scatter(const FidelityResult& f, FidelityMetric metric, int index, size_t max_points) {
  const MetricInfo m = info(metric);
  XYPlot p;
  p.id = std::string("fidelity-") + m.key + "-" + std::to_string(index);
  p.title = std::string(m.title) + ": simulated against measured";
  p.subtitle = "one dot per request completed in both runs; on the diagonal the simulation is exact";
  p.x = make_axis(std::string("measured ") + m.title, "s", UnitKind::kSeconds);
  p.y = make_axis(std::string("simulated ") + m.title, "s", UnitKind::kSeconds);
  Series s;
  s.name = "requests";
  s.kind = SeriesKind::kScatter;
  const size_t n = f.requests.size();
  const size_t step = std::max<size_t>(1, (n + max_points - 1) / std::max<size_t>(1, max_points));
  std::vector<double> all;
  for (size_t i = 0; i < n; i += step) {
    const double x = f.requests[i].*m.live, y = f.requests[i].*m.sim;
    if (!std::isfinite(x) || !std::isfinite(y)) continue;
    s.x.push_back(x);
    s.y.push_back(y);
    all.push_back(x);
    all.push_back(y);
  }
  p.x.scale = p.y.scale = scale_for(all);
  p.series.push_back(std::move(s));
  RefLine diag;
  diag.kind = RefLine::Kind::kDiagonal;
  diag.label = "simulated = measured";
  p.refs.push_back(diag);
  return p;
}

XYPlot fidelity_cdf(const FidelityResult& f, FidelityMetric metric, int index, size_t max_points) {
  const MetricInfo m = info(metric);
  XYPlot p;
  p.id = std::string("fidelity-cdf-") + m.key + "-" + std::to_string(index);
  p.title = std::string(m.title) + ": live and simulated CDFs";
  p.subtitle = "requests completed in both runs";
  p.x = make_axis(m.title, "s", UnitKind::kSeconds);
  p.y = make_axis("requests at or below", "", UnitKind::kFraction);
  p.y.min = 0;
  p.y.max = 1;
  std::vector<double> pooled;
  for (int which = 0; which < 2; ++which) {
    Series s;
    s.name = which == 0 ? "live (measured)" : "simulated";
    s.color = which;
    s.dashed = which == 1;
    std::vector<double> v;
    for (const RequestPair& r : f.requests) {
      const double x = which == 0 ? r.*m.live : r.*m.sim;
      if (std::isfinite(x)) v.push_back(x);
    }
    add_cdf_points(std::move(v), max_points, s);
    pooled.insert(pooled.end(), s.x.begin(), s.x.end());
    p.series.push_back(std::move(s));
  }
  p.x.scale = scale_for(pooled);
  return p;
}

}  // namespace flowkv::report
