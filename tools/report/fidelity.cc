#include "tools/report/fidelity.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "core/base/error.h"
#include "core/results/result_files.h"
#include "core/spec/calibration_profile.h"
#include "sim/calibrated_model.h"

namespace flowkv::report {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

// ---- CSV ----

namespace {

std::vector<std::string> split_line(const std::string& line) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t comma = line.find(',', start);
    out.push_back(line.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

json read_json_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) core::throw_input_error(file.string() + ": not found or not readable");
  std::stringstream text;
  text << in.rdbuf();
  try {
    return json::parse(text.str());
  } catch (const json::parse_error& e) {
    core::throw_input_error(file.string() + ": not valid JSON (" + e.what() + ")");
  }
}

const json* at_path(const json& j, std::initializer_list<const char*> path) {
  const json* v = &j;
  for (const char* k : path) {
    if (!v->is_object() || !v->contains(k)) return nullptr;
    v = &(*v)[k];
  }
  return v;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

FidelityStats stats_of(const std::vector<double>& v) {
  FidelityStats s;
  if (v.empty()) return FidelityStats{NAN, NAN, NAN, NAN};
  double sum = 0;
  for (const double x : v) sum += x;
  s.mean = sum / static_cast<double>(v.size());
  s.p50 = percentile(v, 0.5);
  s.p90 = percentile(v, 0.9);
  s.p99 = percentile(v, 0.99);
  return s;
}

double rel(double sim, double live) { return live > 0 ? (sim - live) / live : NAN; }

FidelityStats error_of(const FidelityStats& sim, const FidelityStats& live) {
  return FidelityStats{rel(sim.mean, live.mean), rel(sim.p50, live.p50), rel(sim.p90, live.p90), rel(sim.p99, live.p99)};
}

FidelityStats summary_stats(const json& summary, const char* key, const std::string& where) {
  const json* s = at_path(summary, {key});
  if (!s || !s->is_object()) core::throw_input_error(where + ": " + key + ": missing (is this a flowkv result folder?)");
  FidelityStats out;
  double* fields[] = {&out.mean, &out.p50, &out.p90, &out.p99};
  const char* names[] = {"mean", "p50", "p90", "p99"};
  for (int i = 0; i < 4; ++i) {
    const json* v = at_path(*s, {names[i]});
    if (!v || !v->is_number()) core::throw_input_error(where + ": " + key + "." + names[i] + ": expected a number");
    *fields[i] = v->get<double>();
  }
  return out;
}

struct RequestRow {
  bool completed = false;
  double arrival = NAN, ttft = NAN, tpot = NAN, e2e = NAN;
};

std::map<int64_t, RequestRow> read_requests(const fs::path& file) {
  const CsvTable t = read_csv(file);
  const size_t c_id = t.column("id"), c_status = t.column("status"), c_arrival = t.column("arrival_s"),
               c_ttft = t.column("ttft_s"), c_tpot = t.column("tpot_s"), c_e2e = t.column("e2e_s");
  std::map<int64_t, RequestRow> out;
  for (size_t i = 0; i < t.rows.size(); ++i) {
    const double id = t.number(i, c_id);
    if (!(id >= 0) || id != std::floor(id)) {
      core::throw_input_error(t.where + ":" + std::to_string(i + 2) + ": column id: expected a request id");
    }
    RequestRow r;
    r.completed = t.rows[i][c_status] == "completed";
    r.arrival = t.number(i, c_arrival);
    r.ttft = t.number(i, c_ttft);
    r.tpot = t.number(i, c_tpot);
    r.e2e = t.number(i, c_e2e);
    out[static_cast<int64_t>(id)] = r;
  }
  return out;
}

std::string pct(double v) {
  if (!std::isfinite(v)) return "-";
  char b[32];
  std::snprintf(b, sizeof b, "%+.1f%%", 100 * v);
  return b;
}

std::string secs(double v) {
  if (!std::isfinite(v)) return "-";
  char b[32];
  if (v >= 1) {
    std::snprintf(b, sizeof b, "%.3f s", v);
  } else {
    std::snprintf(b, sizeof b, "%.2f ms", 1e3 * v);
  }
  return b;
}

ordered_json stats_json(const FidelityStats& s) {
  auto num = [](double v) { return std::isfinite(v) ? ordered_json(core::round9(v)) : ordered_json(nullptr); };
  return ordered_json{{"mean", num(s.mean)}, {"p50", num(s.p50)}, {"p90", num(s.p90)}, {"p99", num(s.p99)}};
}

double jnum(const json& j, const char* key) {
  const json* v = at_path(j, {key});
  return v && v->is_number() ? v->get<double>() : NAN;
}

FidelityStats stats_from(const json& j) {
  return FidelityStats{jnum(j, "mean"), jnum(j, "p50"), jnum(j, "p90"), jnum(j, "p99")};
}

}  // namespace

size_t CsvTable::column(const std::string& name) const {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return i;
  }
  core::throw_input_error(where + ":1: missing column '" + name + "' (is this a file written by flowkv?)");
}

double CsvTable::number(size_t row, size_t col) const {
  const std::string& cell = rows[row][col];
  if (cell.empty()) return NAN;
  double v = 0;
  const auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), v);
  if (ec != std::errc() || end != cell.data() + cell.size()) {
    core::throw_input_error(where + ":" + std::to_string(row + 2) + ": column " + header[col] + ": expected a number, got '" +
                            cell + "'");
  }
  return v;
}

CsvTable read_csv(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) core::throw_input_error(file.string() + ": not found or not readable");
  CsvTable t;
  t.where = file.string();
  std::string line;
  if (!std::getline(in, line)) core::throw_input_error(t.where + ": empty file: expected a header line");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  t.header = split_line(line);
  for (int64_t lineno = 2; std::getline(in, line); ++lineno) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<std::string> f = split_line(line);
    if (f.size() != t.header.size()) {
      core::throw_input_error(t.where + ":" + std::to_string(lineno) + ": expected " + std::to_string(t.header.size()) +
                              " fields, found " + std::to_string(f.size()));
    }
    t.rows.push_back(std::move(f));
  }
  return t;
}

// ---- the comparison ----

FidelityResult compare_runs(const fs::path& live_dir, const fs::path& sim_dir, const FidelityOptions& options) {
  FidelityResult r;
  r.live_dir = live_dir.string();
  r.sim_dir = sim_dir.string();
  const std::string live_where = (live_dir / "summary.json").string(), sim_where = (sim_dir / "summary.json").string();
  const json live_summary = read_json_file(live_dir / "summary.json");
  const json sim_summary = read_json_file(sim_dir / "summary.json");
  const json* ts = at_path(live_summary, {"live", "time_scale"});
  if (!ts || !ts->is_number()) {
    core::throw_input_error(live_where + ": live.time_scale: missing (LIVE_DIR must be a folder written by flowkv live)");
  }
  r.time_scale = ts->get<double>();
  const json* live_rs = at_path(live_summary, {"scenario", "workload", "rate_scale"});
  const json* sim_rs = at_path(sim_summary, {"scenario", "workload", "rate_scale"});
  const double live_rate_scale = live_rs && live_rs->is_number() ? live_rs->get<double>() : 1.0;
  r.sim_rate_scale = sim_rs && sim_rs->is_number() ? sim_rs->get<double>() : 1.0;
  if (at_path(sim_summary, {"live"})) r.notes.push_back(sim_where + " is a live run too: comparing two live runs");

  const std::map<int64_t, RequestRow> live = read_requests(live_dir / "requests.csv");
  const std::map<int64_t, RequestRow> sim = read_requests(sim_dir / "requests.csv");
  r.live_requests = static_cast<int64_t>(live.size());
  r.sim_requests = static_cast<int64_t>(sim.size());

  // The arrivals must be the same: the last matched request that arrives after 0 tells.
  double diff_sum = 0;
  std::optional<std::pair<int64_t, std::pair<double, double>>> last;
  std::vector<double> metric_live[3], metric_sim[3], metric_err[3];
  for (const auto& [id, l] : live) {
    const auto it = sim.find(id);
    if (it == sim.end()) continue;
    const RequestRow& s = it->second;
    ++r.matched;
    const double d = std::abs(l.arrival - s.arrival);
    if (std::isfinite(d)) {
      diff_sum += d;
      r.arrival_max_abs_diff_s = std::max(r.arrival_max_abs_diff_s, d);
    }
    if (l.arrival > 0 && s.arrival > 0) last = {id, {l.arrival, s.arrival}};
    if (!l.completed || !s.completed) continue;
    ++r.completed_both;
    RequestPair p{id, l.ttft, s.ttft, l.tpot, s.tpot, l.e2e, s.e2e};
    const double lv[3] = {l.ttft, l.tpot, l.e2e}, sv[3] = {s.ttft, s.tpot, s.e2e};
    for (int m = 0; m < 3; ++m) {
      if (!std::isfinite(lv[m]) || !std::isfinite(sv[m])) continue;
      metric_live[m].push_back(lv[m]);
      metric_sim[m].push_back(sv[m]);
      if (lv[m] > 0) metric_err[m].push_back((sv[m] - lv[m]) / lv[m]);
    }
    r.requests.push_back(p);
  }
  if (r.matched == 0) {
    core::throw_input_error(live_dir.string() + " and " + sim_dir.string() + ": no request id in both requests.csv files");
  }
  r.arrival_mean_abs_diff_s = diff_sum / static_cast<double>(r.matched);
  if (last) {
    const double ratio = last->second.first / last->second.second;
    if (std::abs(ratio - 1) > 0.05) {
      char msg[512];
      std::snprintf(msg, sizeof msg,
                    "%s does not replay the live run's arrivals (request %lld arrives at %.3f s live, %.3f s simulated): "
                    "live ran at --time-scale %g, so simulate with --rate-scale %g",
                    sim_dir.string().c_str(), static_cast<long long>(last->first), last->second.first, last->second.second,
                    r.time_scale, live_rate_scale * r.time_scale);
      core::throw_input_error(msg);
    }
  }

  const char* names[3] = {"ttft_s", "tpot_s", "e2e_s"};
  for (int m = 0; m < 3; ++m) {
    MetricFidelity f;
    f.name = names[m];
    f.per_request = true;
    f.requests = static_cast<int64_t>(metric_live[m].size());
    f.live = stats_of(metric_live[m]);
    f.sim = stats_of(metric_sim[m]);
    f.error = error_of(f.sim, f.live);
    std::vector<double> abs_err;
    double signed_sum = 0;
    for (const double e : metric_err[m]) {
      abs_err.push_back(std::abs(e));
      signed_sum += e;
    }
    f.mean_abs = abs_err.empty() ? NAN : stats_of(abs_err).mean;
    f.p50_abs = percentile(abs_err, 0.5);
    f.p90_abs = percentile(abs_err, 0.9);
    f.mean_signed = metric_err[m].empty() ? NAN : signed_sum / static_cast<double>(metric_err[m].size());
    r.metrics.push_back(f);
  }
  MetricFidelity itl;
  itl.name = "itl_s";
  itl.live = summary_stats(live_summary, "itl_s", live_where);
  itl.sim = summary_stats(sim_summary, "itl_s", sim_where);
  itl.error = error_of(itl.sim, itl.live);
  itl.mean_abs = itl.p50_abs = itl.p90_abs = itl.mean_signed = NAN;
  r.metrics.insert(r.metrics.begin() + 2, itl);

  // Iteration times per node, priced by the calibrated model.
  fs::path profile = options.profile;
  if (profile.empty()) {
    const json* p = at_path(sim_summary, {"scenario", "cost_model", "profile"});
    if (p && p->is_string()) {
      profile = p->get<std::string>();
      if (!fs::exists(profile)) {
        r.notes.push_back("the simulation's profile " + profile.string() +
                          " is not found from here: iteration times not compared (pass --profile)");
        profile.clear();
      }
    } else {
      r.notes.push_back("the simulation used the roofline: iteration times not compared (pass --profile FILE)");
    }
  }
  const json* layout = at_path(sim_summary, {"scenario", "kv", "layout"});
  r.layout = layout && layout->is_string() ? layout->get<std::string>() : "contiguous";
  if (!profile.empty()) {
    const core::CalibrationProfile prof = core::load_profile(profile);
    const sim::CalibratedModel model(prof);
    const core::LayoutKind kind = r.layout == "paged" ? core::LayoutKind::kPagedPerLayer : core::LayoutKind::kBlockContiguous;
    if (!model.has_layout(kind)) {
      core::throw_input_error(profile.string() + ": iterations: no points of the " + r.layout +
                              " layout, which the runs use (calibrate with --layouts " + r.layout + ")");
    }
    r.profile = profile.string();
    const CsvTable it = read_csv(live_dir / "iterations.csv");
    const size_t c_node = it.column("node"), c_sub = it.column("submitted_s"), c_start = it.column("started_s"),
                 c_fin = it.column("finished_s"), c_ok = it.column("ok"), c_pi = it.column("prefill_items"),
                 c_pt = it.column("prefill_tokens"), c_pc = it.column("prefill_context"), c_ap = it.column("attention_pairs"),
                 c_di = it.column("decode_items"), c_dc = it.column("decode_context");
    std::map<std::string, std::vector<std::array<double, 3>>> per_node;  // predicted, measured, dispatch
    std::vector<std::string> order;
    for (size_t i = 0; i < it.rows.size(); ++i) {
      if (it.rows[i][c_ok] != "1") continue;
      core::IterationShape s;
      s.prefill_items = static_cast<int64_t>(it.number(i, c_pi));
      s.prefill_tokens = static_cast<int64_t>(it.number(i, c_pt));
      s.prefill_context = static_cast<int64_t>(it.number(i, c_pc));
      s.attention_pairs = static_cast<int64_t>(it.number(i, c_ap));
      s.decode_items = static_cast<int64_t>(it.number(i, c_di));
      s.decode_context = static_cast<int64_t>(it.number(i, c_dc));
      if (s.prefill_items + s.decode_items == 0) continue;
      const std::string& node = it.rows[i][c_node];
      if (!per_node.count(node)) order.push_back(node);
      per_node[node].push_back({model.run_seconds(kind, s), it.number(i, c_fin) - it.number(i, c_start),
                                it.number(i, c_start) - it.number(i, c_sub)});
    }
    std::sort(order.begin(), order.end());
    for (const std::string& node : order) {
      NodeFidelity n;
      n.node = node;
      std::vector<double> abs_err;
      double signed_sum = 0, dispatch = 0;
      for (const auto& [pred, meas, disp] : per_node[node]) {
        ++n.iterations;
        n.predicted_s += pred;
        n.measured_s += meas;
        dispatch += disp;
        if (meas > 0) {
          abs_err.push_back(std::abs(pred - meas) / meas);
          signed_sum += (pred - meas) / meas;
        }
      }
      n.total_error = rel(n.predicted_s, n.measured_s);
      n.mean_abs = abs_err.empty() ? NAN : stats_of(abs_err).mean;
      n.p90_abs = percentile(abs_err, 0.9);
      n.mean_signed = abs_err.empty() ? NAN : signed_sum / static_cast<double>(abs_err.size());
      n.dispatch_mean_s = dispatch / static_cast<double>(std::max<int64_t>(1, n.iterations));
      r.nodes.push_back(n);
    }
  }
  if (std::abs(r.sim_rate_scale - live_rate_scale * r.time_scale) > 1e-9 * r.sim_rate_scale) {
    char note[256];
    std::snprintf(note, sizeof note, "the simulation's rate_scale is %g, the live run's %g at time scale %g", r.sim_rate_scale,
                  live_rate_scale, r.time_scale);
    r.notes.push_back(note);
  }
  return r;
}

// ---- output ----

ordered_json fidelity_json(const FidelityResult& r) {
  auto num = [](double v) { return std::isfinite(v) ? ordered_json(core::round9(v)) : ordered_json(nullptr); };
  ordered_json j = ordered_json::object();
  j["live"] = r.live_dir;
  j["sim"] = r.sim_dir;
  j["time_scale"] = r.time_scale;
  j["sim_rate_scale"] = r.sim_rate_scale;
  j["requests"] = {{"live", r.live_requests}, {"sim", r.sim_requests}, {"matched", r.matched},
                   {"completed_both", r.completed_both}};
  j["arrivals"] = {{"max_abs_diff_s", num(r.arrival_max_abs_diff_s)}, {"mean_abs_diff_s", num(r.arrival_mean_abs_diff_s)}};
  ordered_json metrics = ordered_json::object();
  bool met = true;
  for (const MetricFidelity& m : r.metrics) {
    ordered_json e = ordered_json::object();
    e["live"] = stats_json(m.live);
    e["sim"] = stats_json(m.sim);
    e["error"] = stats_json(m.error);
    if (m.per_request) {
      e["per_request"] = {{"requests", m.requests}, {"mean_abs", num(m.mean_abs)}, {"p50_abs", num(m.p50_abs)},
                          {"p90_abs", num(m.p90_abs)}, {"mean_signed", num(m.mean_signed)}};
    }
    if (m.name != "itl_s") {
      const bool ok = std::abs(m.error.mean) <= 0.05 && std::abs(m.error.p99) <= 0.10;
      e["goal_met"] = ok;
      met = met && ok;
    }
    metrics[m.name] = std::move(e);
  }
  j["metrics"] = std::move(metrics);
  j["goal"] = {{"mean_within", 0.05}, {"p99_within", 0.10}, {"metrics", {"ttft_s", "tpot_s", "e2e_s"}}, {"met", met}};
  ordered_json it = ordered_json::object();
  it["profile"] = r.profile.empty() ? ordered_json(nullptr) : ordered_json(r.profile);
  it["layout"] = r.layout;
  ordered_json nodes = ordered_json::array();
  for (const NodeFidelity& n : r.nodes) {
    nodes.push_back({{"node", n.node},
                     {"iterations", n.iterations},
                     {"measured_s", num(n.measured_s)},
                     {"predicted_s", num(n.predicted_s)},
                     {"total_error", num(n.total_error)},
                     {"mean_abs", num(n.mean_abs)},
                     {"p90_abs", num(n.p90_abs)},
                     {"mean_signed", num(n.mean_signed)},
                     {"dispatch_mean_s", num(n.dispatch_mean_s)}});
  }
  it["nodes"] = std::move(nodes);
  j["iterations"] = std::move(it);
  j["notes"] = r.notes;
  return j;
}

std::string fidelity_requests_csv(const FidelityResult& r) {
  std::string out = "id,ttft_live_s,ttft_sim_s,tpot_live_s,tpot_sim_s,e2e_live_s,e2e_sim_s\n";
  char line[320];
  auto cell = [](double v) {
    if (!std::isfinite(v)) return std::string();
    char b[40];
    std::snprintf(b, sizeof b, "%.9f", v);
    return std::string(b);
  };
  for (const RequestPair& p : r.requests) {
    std::snprintf(line, sizeof line, "%lld,%s,%s,%s,%s,%s,%s\n", static_cast<long long>(p.id), cell(p.ttft_live).c_str(),
                  cell(p.ttft_sim).c_str(), cell(p.tpot_live).c_str(), cell(p.tpot_sim).c_str(), cell(p.e2e_live).c_str(),
                  cell(p.e2e_sim).c_str());
    out += line;
  }
  return out;
}

std::string fidelity_table(const FidelityResult& r) {
  std::string out;
  char line[400];
  std::snprintf(line, sizeof line,
                "fidelity: %s (live, time scale %g) vs %s (simulated, rate scale %g): %lld matched requests, %lld completed "
                "in both\n",
                r.live_dir.c_str(), r.time_scale, r.sim_dir.c_str(), r.sim_rate_scale, static_cast<long long>(r.matched),
                static_cast<long long>(r.completed_both));
  out += line;
  std::snprintf(line, sizeof line, "  %-6s %11s %11s %8s %11s %11s %8s %8s %8s %12s\n", "", "live mean", "sim mean", "error",
                "live p99", "sim p99", "error", "p50 err", "p90 err", "|err|/request");
  out += line;
  for (const MetricFidelity& m : r.metrics) {
    std::string name = m.name.substr(0, m.name.size() - 2);
    for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::snprintf(line, sizeof line, "  %-6s %11s %11s %8s %11s %11s %8s %8s %8s %12s\n", name.c_str(), secs(m.live.mean).c_str(),
                  secs(m.sim.mean).c_str(), pct(m.error.mean).c_str(), secs(m.live.p99).c_str(), secs(m.sim.p99).c_str(),
                  pct(m.error.p99).c_str(), pct(m.error.p50).c_str(), pct(m.error.p90).c_str(),
                  m.per_request ? pct(m.mean_abs).c_str() + 1 : "-");
    out += line;
  }
  if (!r.nodes.empty()) {
    std::snprintf(line, sizeof line, "  iteration time per node (calibrated run() vs live finished - started; %s layout):\n",
                  r.layout.c_str());
    out += line;
    std::snprintf(line, sizeof line, "  %-6s %10s %11s %11s %9s %11s %9s %8s %10s\n", "node", "iterations", "measured",
                  "predicted", "total", "|err| mean", "|err| p90", "bias", "dispatch");
    out += line;
    for (const NodeFidelity& n : r.nodes) {
      std::snprintf(line, sizeof line, "  %-6s %10lld %11s %11s %9s %11s %9s %8s %10s\n", n.node.c_str(),
                    static_cast<long long>(n.iterations), secs(n.measured_s).c_str(), secs(n.predicted_s).c_str(),
                    pct(n.total_error).c_str(), pct(n.mean_abs).c_str() + 1, pct(n.p90_abs).c_str() + 1,
                    pct(n.mean_signed).c_str(), secs(n.dispatch_mean_s).c_str());
      out += line;
    }
  }
  std::string met, missed;
  for (const MetricFidelity& m : r.metrics) {
    if (m.name == "itl_s") continue;
    const std::string name = m.name.substr(0, m.name.size() - 2);
    const bool ok_mean = std::abs(m.error.mean) <= 0.05, ok_p99 = std::abs(m.error.p99) <= 0.10;
    if (ok_mean && ok_p99) {
      met += (met.empty() ? "" : ", ") + name;
    } else {
      if (!ok_mean) missed += (missed.empty() ? "" : ", ") + name + " mean " + pct(m.error.mean);
      if (!ok_p99) missed += (missed.empty() ? "" : ", ") + name + " p99 " + pct(m.error.p99);
    }
  }
  out += "  goal (means within 5%, p99 within 10%): " + (met.empty() ? std::string("met for none") : "met for " + met) +
         (missed.empty() ? "" : "; missed: " + missed) + "\n";
  for (const std::string& n : r.notes) out += "  note: " + n + "\n";
  return out;
}

FidelityResult read_fidelity(const fs::path& dir) {
  const fs::path file = dir / "fidelity.json";
  const json j = read_json_file(file);
  FidelityResult r;
  auto str = [&](const char* k) {
    const json* v = at_path(j, {k});
    return v && v->is_string() ? v->get<std::string>() : std::string();
  };
  r.live_dir = str("live");
  r.sim_dir = str("sim");
  r.time_scale = jnum(j, "time_scale");
  r.sim_rate_scale = jnum(j, "sim_rate_scale");
  const json* metrics = at_path(j, {"metrics"});
  if (!metrics || !metrics->is_object()) core::throw_input_error(file.string() + ": metrics: expected an object");
  for (const char* name : {"ttft_s", "tpot_s", "itl_s", "e2e_s"}) {
    const json* m = at_path(*metrics, {name});
    if (!m) core::throw_input_error(file.string() + ": metrics." + name + ": missing");
    MetricFidelity f;
    f.name = name;
    if (const json* v = at_path(*m, {"live"})) f.live = stats_from(*v);
    if (const json* v = at_path(*m, {"sim"})) f.sim = stats_from(*v);
    if (const json* v = at_path(*m, {"error"})) f.error = stats_from(*v);
    if (const json* v = at_path(*m, {"per_request"})) {
      f.per_request = true;
      f.mean_abs = jnum(*v, "mean_abs");
      f.p50_abs = jnum(*v, "p50_abs");
      f.p90_abs = jnum(*v, "p90_abs");
      f.mean_signed = jnum(*v, "mean_signed");
    }
    r.metrics.push_back(f);
  }
  if (const json* nodes = at_path(j, {"iterations", "nodes"}); nodes && nodes->is_array()) {
    for (const json& n : *nodes) {
      NodeFidelity f;
      if (const json* v = at_path(n, {"node"}); v && v->is_string()) f.node = v->get<std::string>();
      f.iterations = static_cast<int64_t>(jnum(n, "iterations"));
      f.measured_s = jnum(n, "measured_s");
      f.predicted_s = jnum(n, "predicted_s");
      f.total_error = jnum(n, "total_error");
      f.mean_abs = jnum(n, "mean_abs");
      f.p90_abs = jnum(n, "p90_abs");
      f.mean_signed = jnum(n, "mean_signed");
      r.nodes.push_back(f);
    }
  }
  const fs::path csv = dir / "fidelity_requests.csv";
  if (fs::exists(csv)) {
    const CsvTable t = read_csv(csv);
    const size_t c[7] = {t.column("id"),          t.column("ttft_live_s"), t.column("ttft_sim_s"), t.column("tpot_live_s"),
                         t.column("tpot_sim_s"),  t.column("e2e_live_s"),  t.column("e2e_sim_s")};
    for (size_t i = 0; i < t.rows.size(); ++i) {
      r.requests.push_back(RequestPair{static_cast<int64_t>(t.number(i, c[0])), t.number(i, c[1]), t.number(i, c[2]),
                                       t.number(i, c[3]), t.number(i, c[4]), t.number(i, c[5]), t.number(i, c[6])});
    }
  }
  return r;
}

}  // namespace flowkv::report
