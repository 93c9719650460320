#include "tools/report/report_plots.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace flowkv::report {
namespace {

bool finite(double v) { return std::isfinite(v); }

// Value at quantile q of sorted values (linear interpolation); NaN when empty.
double quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return std::nan("");
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

// Log scale when the bulk of the positive values (1st to 99th percentile) spans more than a
// factor `ratio`: latencies of an overloaded run span decades, and a linear axis would squash
// the well-served majority against zero.
Scale pick_scale(std::vector<double> values, double ratio = 50) {
  values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return !(v > 0) || !finite(v); }),
               values.end());
  if (values.size() < 2) return Scale::kLinear;
  std::sort(values.begin(), values.end());
  const double lo = quantile(values, 0.01), hi = quantile(values, 0.99);
  return lo > 0 && hi / lo > ratio ? Scale::kLog : Scale::kLinear;
}

const std::vector<double>& column(const RequestTable& t, LatencyMetric m) {
  switch (m) {
    case LatencyMetric::kTtft: return t.ttft_s;
    case LatencyMetric::kTpot: return t.tpot_s;
    case LatencyMetric::kE2e: return t.e2e_s;
    case LatencyMetric::kQueue: return t.queue_s;
  }
  return t.e2e_s;
}

std::string seconds_text(double s) { return format_seconds(s, 3); }

// The runs' distinct SLOs as rules; `stretch_below`: widen the axis only for an SLO up to it.
void add_slo_refs(std::vector<RefLine>& refs, const std::vector<Run>& runs, bool ttft, RefLine::Kind kind,
                  double stretch_below) {
  std::set<double> seen;
  for (const Run& r : runs) {
    const double v = ttft ? r.summary.slo_ttft_s : r.summary.slo_tpot_s;
    if (v > 0 && seen.insert(v).second) {
      RefLine ref{kind, v, std::string(ttft ? "TTFT" : "TPOT") + " SLO " + seconds_text(v)};
      ref.stretch = v <= stretch_below;
      refs.push_back(std::move(ref));
    }
  }
}

}  // namespace

std::string slo_text(const RunSummary& s) {
  if (s.slo_ttft_s <= 0 && s.slo_tpot_s <= 0) return "";
  std::string t;
  if (s.slo_ttft_s > 0) t += "TTFT ≤ " + seconds_text(s.slo_ttft_s);
  if (s.slo_tpot_s > 0) t += std::string(t.empty() ? "" : " and ") + "TPOT ≤ " + seconds_text(s.slo_tpot_s);
  return t;
}

XYPlot latency_cdf(const std::vector<Run>& runs, LatencyMetric metric, size_t max_points) {
  XYPlot p;
  const char* what = "";
  switch (metric) {
    case LatencyMetric::kTtft:
      what = "TTFT";
      p.id = "cdf-ttft";
      p.title = "Time to first token (TTFT)";
      break;
    case LatencyMetric::kTpot:
      what = "TPOT";
      p.id = "cdf-tpot";
      p.title = "Time per output token (TPOT)";
      break;
    case LatencyMetric::kE2e:
      what = "E2E latency";
      p.id = "cdf-e2e";
      p.title = "End-to-end latency (E2E)";
      break;
    case LatencyMetric::kQueue:
      what = "queueing delay";
      p.id = "cdf-queue";
      p.title = "Queueing before prefill";
      break;
  }
  p.subtitle = std::string("CDF over completed requests") +
               (metric == LatencyMetric::kTpot ? " with more than one output token" : "") +
               (metric == LatencyMetric::kQueue ? ", arrival to first prefill iteration" : "") + "; further left is better";
  p.x = make_axis(what, "s", UnitKind::kSeconds);
  p.y = make_axis("requests at or below", "", UnitKind::kFraction);
  p.y.min = 0;
  p.y.max = 1;
  std::vector<double> pooled;
  for (size_t i = 0; i < runs.size(); ++i) {
    Series s;
    s.name = runs[i].label;
    s.color = static_cast<int>(i);
    if (!runs[i].requests) {
      s.name += " (no requests.csv)";
      p.series.push_back(std::move(s));
      continue;
    }
    const RequestTable& t = *runs[i].requests;
    const std::vector<double>& col = column(t, metric);
    std::vector<double> v;
    for (size_t r = 0; r < t.size(); ++r) {
      if (t.completed[r] && finite(col[r])) v.push_back(col[r]);
    }
    add_cdf_points(std::move(v), max_points, s);
    pooled.insert(pooled.end(), s.x.begin(), s.x.end());
    p.series.push_back(std::move(s));
  }
  p.x.scale = pick_scale(pooled);
  double largest = 0;
  for (double v : pooled) largest = std::max(largest, v);
  if (metric == LatencyMetric::kTtft || metric == LatencyMetric::kTpot) {
    add_slo_refs(p.refs, runs, metric == LatencyMetric::kTtft, RefLine::Kind::kVertical, 2 * largest);
  }
  p.empty_message = "no completed request in any requests.csv";
  return p;
}

SweepFigures sweep_figures(const std::vector<Sweep>& sweeps) {
  SweepFigures f;
  if (sweeps.empty()) return f;
  // One series per (sweep, policy), in order of first appearance; cells sorted by rate.
  struct Line {
    std::string name;
    std::vector<const SweepCell*> cells;
  };
  std::vector<Line> lines;
  std::map<std::string, int> policy_color;
  std::vector<int> colors;
  for (size_t si = 0; si < sweeps.size(); ++si) {
    std::map<std::string, size_t> index;
    for (const SweepCell& c : sweeps[si].cells) {
      auto [it, added] = index.emplace(c.policy, lines.size());
      if (added) {
        std::string name = c.policy;
        if (sweeps.size() > 1) name += " (" + sweeps[si].dir.filename().string() + ")";
        lines.push_back({name, {}});
        auto [pc, fresh] = policy_color.emplace(c.policy, static_cast<int>(policy_color.size()));
        colors.push_back(fresh ? pc->second : static_cast<int>(colors.size()));
      }
      lines[it->second].cells.push_back(&c);
    }
  }
  for (Line& l : lines) {
    std::stable_sort(l.cells.begin(), l.cells.end(),
                     [](const SweepCell* a, const SweepCell* b) { return a->rate_rps < b->rate_rps; });
  }
  const RunSummary& first = sweeps.front().cells.front().summary;
  const std::string slo = slo_text(first);
  auto make = [&](const std::string& id, const std::string& title, const std::string& subtitle, Axis y,
                  auto value) {
    XYPlot p;
    p.id = id;
    p.title = title;
    p.subtitle = subtitle;
    p.x = make_axis("offered request rate", "req/s", UnitKind::kCount);
    p.y = std::move(y);
    std::vector<double> ys;
    for (size_t i = 0; i < lines.size(); ++i) {
      Series s;
      s.name = lines[i].name;
      s.color = colors[i];
      s.markers = true;
      for (const SweepCell* c : lines[i].cells) {
        s.x.push_back(c->rate_rps);
        s.y.push_back(value(*c));
        ys.push_back(s.y.back());
      }
      p.series.push_back(std::move(s));
    }
    if (p.y.kind == UnitKind::kSeconds) p.y.scale = pick_scale(ys, 30);
    return p;
  };
  XYPlot tp = make("rate-throughput", "Throughput vs offered rate", "completed requests per second of makespan",
                   make_axis("throughput", "req/s", UnitKind::kCount),
                   [](const SweepCell& c) { return c.summary.requests_per_s; });
  tp.refs.push_back({RefLine::Kind::kDiagonal, 0, "served = offered"});
  XYPlot gp = make("rate-goodput", "Goodput vs offered rate",
                   "requests per second meeting the SLO" + (slo.empty() ? std::string() : " (" + slo + ")"),
                   make_axis("goodput", "req/s", UnitKind::kCount), [](const SweepCell& c) { return c.summary.goodput_rps; });
  gp.refs.push_back({RefLine::Kind::kDiagonal, 0, "all offered within SLO"});
  Axis att = make_axis("requests within SLO", "", UnitKind::kFraction);
  att.min = 0;
  att.max = 1;
  XYPlot at = make("rate-slo", "SLO attainment vs offered rate",
                   "share of completed requests meeting " + (slo.empty() ? std::string("the SLO") : slo), att,
                   [](const SweepCell& c) { return c.summary.slo_attainment; });
  at.refs.push_back({RefLine::Kind::kHorizontal, 0.9, "90% target"});
  XYPlot ttft = make("rate-ttft", "p90 TTFT vs offered rate", "90th percentile time to first token",
                     make_axis("p90 TTFT", "s", UnitKind::kSeconds), [](const SweepCell& c) { return c.summary.ttft.p90; });
  if (first.slo_ttft_s > 0) ttft.refs.push_back({RefLine::Kind::kHorizontal, first.slo_ttft_s, "SLO " + seconds_text(first.slo_ttft_s)});
  XYPlot tpot = make("rate-tpot", "p90 TPOT vs offered rate", "90th percentile time per output token",
                     make_axis("p90 TPOT", "s", UnitKind::kSeconds), [](const SweepCell& c) { return c.summary.tpot.p90; });
  if (first.slo_tpot_s > 0) tpot.refs.push_back({RefLine::Kind::kHorizontal, first.slo_tpot_s, "SLO " + seconds_text(first.slo_tpot_s)});
  f.plots = {std::move(tp), std::move(gp), std::move(at), std::move(ttft), std::move(tpot)};

  BarChart b;
  b.id = "rate-max-slo";
  b.title = "Highest rate with ≥ 90% SLO attainment";
  b.subtitle = "highest offered rate of the sweep at which ≥ 90% of requests met the SLO (none: no bar)";
  b.x_label = "policy";
  b.y = make_axis("offered request rate", "req/s", UnitKind::kCount);
  for (size_t i = 0; i < lines.size(); ++i) b.categories.push_back(lines[i].name);
  for (size_t i = 0; i < lines.size(); ++i) {
    BarGroup g;
    g.name = lines[i].name;
    g.color = colors[i];
    g.values.assign(lines.size(), std::nan(""));
    double best = std::nan("");
    for (const SweepCell* c : lines[i].cells) {
      if (c->summary.slo_attainment >= 0.9) best = finite(best) ? std::max(best, c->rate_rps) : c->rate_rps;
    }
    g.values[i] = best;
    b.groups.push_back(std::move(g));
  }
  f.max_rate = std::move(b);
  return f;
}

namespace {

// Node names over all runs, in first-seen order, with a second label line: role and GPU.
std::vector<std::string> node_categories(const std::vector<Run>& runs, std::vector<std::string>* names) {
  std::vector<std::string> cats;
  std::map<std::string, size_t> index;
  for (const Run& r : runs) {
    for (const NodeSummary& n : r.summary.nodes) {
      auto [it, added] = index.emplace(n.name, cats.size());
      if (added) {
        names->push_back(n.name);
        cats.push_back(n.name + "\n" + n.role_initial);
      }
      if (n.role_flips > 0 && cats[it->second].find("flips") == std::string::npos) {
        cats[it->second] += " (flips)";
      }
    }
  }
  return cats;
}

BarChart node_chart(const std::vector<Run>& runs, bool kv) {
  BarChart b;
  std::vector<std::string> names;
  b.categories = node_categories(runs, &names);
  b.x_label = "node (initial role)";
  b.y = make_axis(kv ? "KV blocks in use" : "busy time / makespan", "", UnitKind::kFraction);
  b.y.min = 0;
  b.y.max = 1;
  if (kv) b.marker_name = "peak";
  for (size_t i = 0; i < runs.size(); ++i) {
    BarGroup g;
    g.name = runs[i].label;
    g.color = static_cast<int>(i);
    g.values.assign(names.size(), std::nan(""));
    if (kv) g.markers.assign(names.size(), std::nan(""));
    for (const NodeSummary& n : runs[i].summary.nodes) {
      const size_t c = static_cast<size_t>(std::find(names.begin(), names.end(), n.name) - names.begin());
      g.values[c] = kv ? n.kv_usage_mean : n.utilization;
      if (kv) g.markers[c] = n.kv_usage_peak;
    }
    b.groups.push_back(std::move(g));
  }
  // Many bars: a full-width figure (the page spans it over both columns) keeps them readable.
  if (names.size() * runs.size() > 16) {
    b.width = 1300;
    b.height = 440;
  }
  return b;
}

}  // namespace

BarChart node_utilization(const std::vector<Run>& runs) {
  BarChart b = node_chart(runs, false);
  b.id = "node-utilization";
  b.title = "Node utilisation";
  b.subtitle = "share of the makespan each node spent running iterations";
  return b;
}

BarChart node_kv_usage(const std::vector<Run>& runs) {
  BarChart b = node_chart(runs, true);
  b.id = "node-kv";
  b.title = "KV cache usage per node";
  b.subtitle = "bar: time-weighted mean share of the node's KV blocks in use; black tick: peak";
  return b;
}

std::optional<XYPlot> kv_over_time(const Run& run, int run_index, size_t max_points) {
  if (!run.timeline || run.timeline->kv.empty()) return std::nullopt;
  XYPlot p;
  p.id = "kv-time-" + std::to_string(run_index);
  p.title = "KV usage over time: " + run.label;
  p.subtitle = run.timeline->flips.empty() ? "from timeline.json counters; no role flip in this run"
                                            : "from timeline.json counters; dotted rules: role flips";
  p.x = make_axis("time since the first arrival", "s", UnitKind::kSeconds);
  bool fraction = true;
  std::set<std::string> counters;
  for (const UsageTrack& t : run.timeline->kv) {
    for (double v : t.value) fraction = fraction && v <= 1.0 + 1e-9;
    counters.insert(t.counter);
  }
  p.y = fraction ? make_axis("KV blocks in use", "", UnitKind::kFraction) : make_axis("KV in use", "blocks", UnitKind::kCount);
  p.y.min = 0;
  // Nodes in the order of summary.json (P0, P1, D0, ...), each keeping its place's colour.
  std::vector<const UsageTrack*> tracks;
  for (const UsageTrack& t : run.timeline->kv) tracks.push_back(&t);
  auto rank = [&](const UsageTrack* t) {
    const auto& nodes = run.summary.nodes;
    const auto it = std::find_if(nodes.begin(), nodes.end(), [&](const NodeSummary& n) { return n.name == t->node; });
    return static_cast<size_t>(it - nodes.begin());
  };
  std::stable_sort(tracks.begin(), tracks.end(), [&](const UsageTrack* a, const UsageTrack* b) { return rank(a) < rank(b); });
  int color = 5;  // nodes, not runs: colours that the runs' lines (0, 1, ...) use last
  for (const UsageTrack* tp : tracks) {
    const UsageTrack& t = *tp;
    Series s;
    s.name = counters.size() > 1 ? t.node + " " + t.counter : t.node;
    s.color = color++;
    // Keep the maximum of each time bucket so that peaks stay visible after downsampling.
    const size_t n = t.t_s.size();
    if (n <= max_points) {
      s.x = t.t_s;
      s.y = t.value;
    } else {
      const double t0 = t.t_s.front(), t1 = t.t_s.back();
      const double width = (t1 - t0) / static_cast<double>(max_points);
      size_t i = 0;
      for (size_t b = 0; b < max_points && i < n; ++b) {
        const double end = b + 1 == max_points ? t1 : t0 + width * static_cast<double>(b + 1);
        double best = -1e300, at = t.t_s[i];
        for (; i < n && t.t_s[i] <= end; ++i) {
          if (t.value[i] > best) {
            best = t.value[i];
            at = t.t_s[i];
          }
        }
        if (best > -1e300) {
          s.x.push_back(at);
          s.y.push_back(best);
        }
      }
    }
    p.series.push_back(std::move(s));
  }
  for (const RoleFlipMark& f : run.timeline->flips) {
    p.refs.push_back({RefLine::Kind::kVertical, f.t_s, f.node + ": " + f.label});
  }
  return p;
}

XYPlot transfer_scatter(const std::vector<Run>& runs, size_t max_points) {
  XYPlot p;
  p.id = "transfer-vs-prompt";
  p.width = 1300;  // full page width: thousands of points need the room
  p.height = 520;
  p.title = "KV transfer time vs prompt length";
  p.subtitle = "dots: requests (at most " + std::to_string(max_points) +
               " per run, every k-th row); lines: median per prompt-length bin";
  p.x = make_axis("prompt length", "tokens", UnitKind::kCount);
  p.y = make_axis("KV transfer time", "s", UnitKind::kSeconds);
  std::vector<double> all_x, all_y;
  std::vector<std::vector<std::pair<double, double>>> points(runs.size());
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!runs[i].requests) continue;
    const RequestTable& t = *runs[i].requests;
    for (size_t r = 0; r < t.size(); ++r) {
      if (finite(t.transfer_s[r]) && t.prompt_tokens[r] > 0) {
        points[i].emplace_back(static_cast<double>(t.prompt_tokens[r]), t.transfer_s[r]);
      }
    }
    for (const auto& [x, y] : points[i]) {
      all_x.push_back(x);
      all_y.push_back(y);
    }
  }
  p.x.scale = pick_scale(all_x, 30);
  p.y.scale = pick_scale(all_y, 30);
  double xmin = 1e300, xmax = 0;
  for (double x : all_x) {
    xmin = std::min(xmin, x);
    xmax = std::max(xmax, x);
  }
  const int bins = 16;
  auto bin_of = [&](double x) {
    if (!(xmax > xmin)) return 0;
    const double f = p.x.scale == Scale::kLog ? (std::log(x) - std::log(xmin)) / (std::log(xmax) - std::log(xmin))
                                              : (x - xmin) / (xmax - xmin);
    return std::clamp(static_cast<int>(f * bins), 0, bins - 1);
  };
  for (size_t i = 0; i < runs.size(); ++i) {
    Series s;
    s.name = runs[i].label;
    if (!runs[i].requests) {
      s.name += " (no requests.csv)";
    } else if (points[i].empty()) {
      s.name += " (no KV transfers)";
    }
    s.kind = SeriesKind::kScatter;
    s.color = static_cast<int>(i);
    const size_t n = points[i].size();
    const size_t k = std::min(n, max_points);
    for (size_t j = 0; j < k; ++j) {
      const auto& [x, y] = points[i][j * n / k];
      s.x.push_back(x);
      s.y.push_back(y);
    }
    p.series.push_back(std::move(s));
    std::vector<std::vector<double>> xs(bins), ys(bins);
    for (const auto& [x, y] : points[i]) {
      xs[static_cast<size_t>(bin_of(x))].push_back(x);
      ys[static_cast<size_t>(bin_of(x))].push_back(y);
    }
    Trend trend;
    trend.color = static_cast<int>(i);
    for (int b = 0; b < bins; ++b) {
      if (ys[static_cast<size_t>(b)].size() < 5) continue;
      std::sort(xs[static_cast<size_t>(b)].begin(), xs[static_cast<size_t>(b)].end());
      std::sort(ys[static_cast<size_t>(b)].begin(), ys[static_cast<size_t>(b)].end());
      trend.x.push_back(quantile(xs[static_cast<size_t>(b)], 0.5));
      trend.y.push_back(quantile(ys[static_cast<size_t>(b)], 0.5));
    }
    if (trend.x.size() >= 2) p.trends.push_back(std::move(trend));
  }
  p.empty_message = "no request with a KV transfer (colocated runs transfer nothing)";
  return p;
}

XYPlot plan_cost_goodput(const Plan& plan, int plan_index) {
  XYPlot p;
  p.id = "plan-cost-goodput-" + std::to_string(plan_index);
  p.title = "Goodput vs cost: " + plan.scenario;
  p.subtitle = "candidates simulated to the end (" + std::string(plan.mode) + " search); goodput = requests/s meeting the SLO";
  p.x = make_axis("cluster cost", "$/h", UnitKind::kCount);
  p.y = make_axis("goodput", "req/s", UnitKind::kCount);
  Series rejected, feasible, frontier, chosen;
  rejected.name = "rejected";
  rejected.kind = SeriesKind::kScatter;
  rejected.color = 3;
  feasible.name = "meets the target";
  feasible.kind = SeriesKind::kScatter;
  feasible.color = 2;
  frontier.name = "frontier";
  frontier.color = 0;
  frontier.markers = true;
  chosen.name = "chosen";
  chosen.kind = SeriesKind::kScatter;
  chosen.color = 1;
  for (const PlanCandidate& c : plan.candidates) {
    if (!c.goodput_rps) continue;
    Series& s = c.status == "rejected" ? rejected : feasible;
    s.x.push_back(c.cost_per_hour);
    s.y.push_back(*c.goodput_rps);
  }
  for (int64_t id : plan.frontier) {
    const PlanCandidate& c = plan.candidates[static_cast<size_t>(id)];
    frontier.x.push_back(c.cost_per_hour);
    frontier.y.push_back(c.goodput_rps.value_or(0));
  }
  if (plan.best) {
    const PlanCandidate& c = plan.candidates[static_cast<size_t>(*plan.best)];
    chosen.x.push_back(c.cost_per_hour);
    chosen.y.push_back(c.goodput_rps.value_or(0));
  }
  for (Series* s : {&rejected, &feasible, &frontier, &chosen}) {
    if (!s->x.empty()) p.series.push_back(std::move(*s));
  }
  if (plan.rate_rps > 0) p.refs.push_back({RefLine::Kind::kHorizontal, plan.rate_rps, "offered rate"});
  p.empty_message = "no candidate was simulated to the end";
  return p;
}

}  // namespace flowkv::report
