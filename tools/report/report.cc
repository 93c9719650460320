#include "tools/report/report.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>

#include "core/base/error.h"
#include "tools/report/fidelity_plots.h"
#include "tools/report/report_plots.h"
#include "tools/report/svg_plot.h"

namespace flowkv::report {
namespace {

namespace fs = std::filesystem;

const char* const kCss = R"(
:root { --fg: #1d1d1f; --muted: #5f6368; --line: #dadce0; }
* { box-sizing: border-box; }
body { margin: 0; background: #f4f5f7; color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1360px; margin: 0 auto; padding: 22px 28px 64px; }
h1 { font-size: 26px; margin: 0 0 2px; }
h2 { font-size: 19px; margin: 34px 0 10px; padding-bottom: 5px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 6px; }
p { margin: 6px 0; }
.lead { color: var(--muted); }
nav { margin: 10px 0 0; font-size: 13.5px; }
nav a { margin-right: 16px; color: #0b57d0; text-decoration: none; }
.grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 16px; }
@media (max-width: 1100px) { .grid { grid-template-columns: minmax(0, 1fr); } }
figure { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 8px 8px 6px; }
figure.wide { grid-column: 1 / -1; }
figure svg { width: 100%; height: auto; display: block; }
figcaption { font-size: 12.5px; color: var(--muted); padding: 4px 6px 0; }
.table-wrap { overflow-x: auto; background: #fff; border: 1px solid var(--line); border-radius: 8px; }
table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; width: 100%; }
th, td { padding: 4px 12px; border-bottom: 1px solid #eceef1; text-align: right; white-space: nowrap; }
th { background: #fafbfc; font-weight: 600; white-space: normal; vertical-align: bottom; }
th:first-child, td:first-child { text-align: left; }
td.group { background: #f6f7f9; font-weight: 600; color: var(--muted); text-align: left; }
td.best { font-weight: 700; color: #0a6b3d; }
td.text, th.text { text-align: left; white-space: normal; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
.note { background: #fff8e1; border: 1px solid #f0d98c; border-radius: 6px; padding: 8px 12px; margin: 8px 0;
  font-size: 13.5px; }
.absent { background: #fff; border: 1px dashed #b8bcc2; border-radius: 8px; padding: 14px 16px; margin: 16px 0 0; color: var(--muted); }
code { background: #eef0f3; border-radius: 4px; padding: 0 4px; font-size: 12.5px; }
)";

std::string esc(const std::string& s) { return escape_xml(s); }

std::string swatch(int color) {
  return "<span class=\"swatch\" style=\"background:" + std::string(palette_color(color)) + "\"></span>";
}

std::string count_text(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (v < 0 ? "-" : "") + out;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string figure(const std::string& svg, const std::string& caption, bool wide = false) {
  return std::string("<figure") + (wide ? " class=\"wide\"" : "") + ">\n" + svg + "<figcaption>" + caption +
         "</figcaption></figure>\n";
}

std::string absent(const std::string& id, const std::string& html) {
  return "<div class=\"absent\" id=\"" + esc(id) + "\">" + html + "</div>\n";
}

// --- the summary table: one column per run, the best value of a row in bold ---

enum class Better { kNone, kLower, kHigher };

struct Row {
  std::string group;  // a new group starts a header row
  std::string name;
  Better better = Better::kNone;
  std::function<double(const RunSummary&)> value;
  std::function<std::string(double)> format;
};

// Milliseconds with 3 significant digits, and whole milliseconds with separators from 1,000 on
// ("13,284", not "13.3k").
std::string ms(double s) {
  const double v = s * 1e3;
  return std::fabs(v) >= 999.5 ? count_text(static_cast<int64_t>(std::llround(v))) : format_number(v, 3);
}
std::string sec(double s) { return format_number(s, 3); }
std::string pct(double f) { return fixed(f * 100, 1) + "%"; }
std::string num(double v) { return format_number(v, 3); }
std::string cnt(double v) { return count_text(static_cast<int64_t>(std::llround(v))); }

std::vector<Row> summary_rows() {
  std::vector<Row> rows;
  auto stat_rows = [&](const std::string& group, const std::string& unit, StatSummary RunSummary::*field,
                       std::function<std::string(double)> fmt) {
    rows.push_back({group, "mean (" + unit + ")", Better::kLower, [=](const RunSummary& s) { return (s.*field).mean; }, fmt});
    rows.push_back({"", "p50 (" + unit + ")", Better::kLower, [=](const RunSummary& s) { return (s.*field).p50; }, fmt});
    rows.push_back({"", "p90 (" + unit + ")", Better::kLower, [=](const RunSummary& s) { return (s.*field).p90; }, fmt});
    rows.push_back({"", "p99 (" + unit + ")", Better::kLower, [=](const RunSummary& s) { return (s.*field).p99; }, fmt});
  };
  rows.push_back({"Requests", "total", Better::kNone, [](const RunSummary& s) { return double(s.total); }, cnt});
  rows.push_back({"", "completed", Better::kHigher, [](const RunSummary& s) { return double(s.completed); }, cnt});
  rows.push_back({"", "failed", Better::kLower, [](const RunSummary& s) { return double(s.failed); }, cnt});
  rows.push_back({"", "preempted", Better::kLower, [](const RunSummary& s) { return double(s.preempted); }, cnt});
  rows.push_back({"Throughput", "requests/s", Better::kHigher, [](const RunSummary& s) { return s.requests_per_s; }, num});
  rows.push_back({"", "output tokens/s", Better::kHigher, [](const RunSummary& s) { return s.output_tokens_per_s; }, num});
  rows.push_back({"", "goodput (requests/s within SLO)", Better::kHigher, [](const RunSummary& s) { return s.goodput_rps; }, num});
  rows.push_back({"", "SLO attainment", Better::kHigher, [](const RunSummary& s) { return s.slo_attainment; }, pct});
  rows.push_back({"", "makespan (s)", Better::kNone, [](const RunSummary& s) { return s.makespan_s; }, sec});
  stat_rows("TTFT", "ms", &RunSummary::ttft, ms);
  stat_rows("TPOT", "ms", &RunSummary::tpot, ms);
  stat_rows("ITL", "ms", &RunSummary::itl, ms);
  stat_rows("E2E latency", "s", &RunSummary::e2e, sec);
  stat_rows("Queueing before prefill", "ms", &RunSummary::queue, ms);
  stat_rows("KV transfer", "ms", &RunSummary::transfer, ms);
  rows.push_back({"", "transport calls per request", Better::kLower,
                  [](const RunSummary& s) { return s.total > 0 ? double(s.transfer_calls_total) / double(s.total) : 0.0; },
                  num});
  rows.push_back({"", "GB moved", Better::kNone, [](const RunSummary& s) { return double(s.transfer_bytes_total) / 1e9; }, num});
  rows.push_back({"Cluster", "role flips", Better::kNone, [](const RunSummary& s) { return double(s.role_flips); }, cnt});
  rows.push_back({"", "preemptions", Better::kLower, [](const RunSummary& s) { return double(s.preemptions); }, cnt});
  rows.push_back({"", "retries", Better::kLower, [](const RunSummary& s) { return double(s.retries); }, cnt});
  return rows;
}

std::string summary_table(const std::vector<Run>& runs) {
  std::string h = "<div class=\"table-wrap\"><table id=\"summary-table\">\n<tr><th>metric</th>";
  for (size_t i = 0; i < runs.size(); ++i) h += "<th>" + swatch(static_cast<int>(i)) + esc(runs[i].label) + "</th>";
  h += "</tr>\n";
  for (const Row& row : summary_rows()) {
    if (!row.group.empty()) {
      h += "<tr><td class=\"group\" colspan=\"" + std::to_string(runs.size() + 1) + "\">" + esc(row.group) + "</td></tr>\n";
    }
    std::vector<double> v;
    for (const Run& r : runs) v.push_back(row.value(r.summary));
    double best = v.empty() ? 0 : v.front(), worst = best;
    for (double x : v) {
      best = row.better == Better::kLower ? std::min(best, x) : std::max(best, x);
      worst = row.better == Better::kLower ? std::max(worst, x) : std::min(worst, x);
    }
    // Bold only a difference worth a look (2%), and every run that shows the best value.
    const bool meaningful = std::fabs(worst - best) > 0.02 * std::max(std::fabs(worst), std::fabs(best));
    const std::string best_text = row.format(best);
    h += "<tr><td>" + esc(row.name) + "</td>";
    for (double x : v) {
      const std::string text = row.format(x);
      const bool mark = row.better != Better::kNone && runs.size() > 1 && meaningful && text == best_text;
      h += std::string("<td") + (mark ? " class=\"best\"" : "") + ">" + esc(text) + "</td>";
    }
    h += "</tr>\n";
  }
  return h + "</table></div>\n";
}

std::string cluster_text(const RunSummary& s) {
  std::map<std::string, int> roles;
  std::map<std::string, int> gpus;
  for (const NodeSummary& n : s.nodes) {
    ++roles[n.role_initial];
    ++gpus[n.gpu];
  }
  std::string t;
  for (const char* role : {"prefill", "decode", "colocated"}) {
    auto it = roles.find(role);
    if (it == roles.end()) continue;
    t += (t.empty() ? "" : " + ") + std::to_string(it->second) + " " + role;
  }
  for (const auto& [role, n] : roles) {
    if (role != "prefill" && role != "decode" && role != "colocated") t += (t.empty() ? "" : " + ") + std::to_string(n) + " " + role;
  }
  std::string g;
  for (const auto& [gpu, n] : gpus) g += (g.empty() ? "" : ", ") + gpu;
  return t + (g.empty() ? "" : " (" + g + ")");
}

std::string runs_table(const std::vector<Run>& runs) {
  std::string h =
      "<div class=\"table-wrap\"><table id=\"runs-table\">\n<tr><th>run</th><th class=\"text\">from</th>"
      "<th class=\"text\">scenario</th><th class=\"text\">model</th><th class=\"text\">cluster</th>"
      "<th class=\"text\">policies (global / role)</th><th class=\"text\">KV layout / allocator</th>"
      "<th class=\"text\">SLO</th></tr>\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunSummary& s = runs[i].summary;
    h += "<tr><td>" + swatch(static_cast<int>(i)) + esc(runs[i].label) + "</td><td class=\"text\">" +
         esc(runs[i].origin) + "</td><td class=\"text\">" + esc(s.scenario_name) + "</td><td class=\"text\">" +
         esc(s.model) + "</td><td class=\"text\">" + esc(cluster_text(s)) + "</td><td class=\"text\">" +
         esc(s.policy + (s.role_policy.empty() ? "" : " / " + s.role_policy)) + "</td><td class=\"text\">" +
         esc(s.layout + (s.allocator.empty() ? "" : " / " + s.allocator)) + "</td><td class=\"text\">" +
         esc(slo_text(s)) + "</td></tr>\n";
  }
  return h + "</table></div>\n";
}

std::string node_table(const Run& run, int index) {
  std::string h = "<h3>" + swatch(index) + esc(run.label) + "</h3>\n<div class=\"table-wrap\"><table class=\"nodes\">\n"
                  "<tr><th>node</th><th class=\"text\">GPU</th><th class=\"text\">role</th><th>KV blocks</th>"
                  "<th>utilisation</th><th>KV mean</th><th>KV peak</th><th>iterations</th><th>preemptions</th>"
                  "<th>transfers out</th><th>transfers in</th><th>role flips</th></tr>\n";
  for (const NodeSummary& n : run.summary.nodes) {
    const std::string role = n.role_initial == n.role_final ? n.role_initial : n.role_initial + " → " + n.role_final;
    h += "<tr><td>" + esc(n.name) + "</td><td class=\"text\">" + esc(n.gpu) + "</td><td class=\"text\">" + esc(role) +
         "</td><td>" + count_text(n.kv_blocks) + "</td><td>" + pct(n.utilization) + "</td><td>" + pct(n.kv_usage_mean) +
         "</td><td>" + pct(n.kv_usage_peak) + "</td><td>" + count_text(n.iterations) + "</td><td>" +
         count_text(n.preemptions) + "</td><td>" + count_text(n.transfers_out) + "</td><td>" +
         count_text(n.transfers_in) + "</td><td>" + count_text(n.role_flips) + "</td></tr>\n";
  }
  return h + "</table></div>\n";
}

std::string sweep_table(const Sweep& sweep) {
  std::string h = "<h3>Sweep " + esc(sweep.dir.string()) + "</h3>\n<div class=\"table-wrap\"><table class=\"sweep\">\n"
                  "<tr><th>policy</th><th>rate scale</th><th>offered (req/s)</th><th>throughput (req/s)</th>"
                  "<th>goodput (req/s)</th><th>SLO attainment</th><th>p90 TTFT (ms)</th><th>p90 TPOT (ms)</th>"
                  "<th>p99 E2E (s)</th><th>failed</th></tr>\n";
  for (const SweepCell& c : sweep.cells) {
    const RunSummary& s = c.summary;
    h += "<tr><td>" + esc(c.policy) + "</td><td>" + num(c.rate_scale) + "</td><td>" + num(c.rate_rps) + "</td><td>" +
         num(s.requests_per_s) + "</td><td>" + num(s.goodput_rps) + "</td><td>" + pct(s.slo_attainment) + "</td><td>" +
         ms(s.ttft.p90) + "</td><td>" + ms(s.tpot.p90) + "</td><td>" + sec(s.e2e.p99) + "</td><td>" +
         count_text(s.failed) + "</td></tr>\n";
  }
  return h + "</table></div>\n";
}

std::string signed_pct(double f) {
  if (!std::isfinite(f)) return "–";
  return (f >= 0 ? "+" : "") + fixed(f * 100, 1) + "%";
}

// The fidelity of a live run against its simulation: the error table, iteration times per
// node, and per-request scatter plots and overlaid CDFs.
std::string fidelity_section(const Run& run, int index) {
  const FidelityResult& f = *run.fidelity;
  std::string h = "<h3>" + swatch(index) + esc(run.label) + ": live against <code>" + esc(f.sim_dir) + "</code></h3>\n";
  h += "<div class=\"table-wrap\"><table class=\"fidelity\">\n<tr><th>metric</th><th>live mean</th><th>sim mean</th>"
       "<th>error</th><th>p50 error</th><th>p90 error</th><th>live p99</th><th>sim p99</th><th>p99 error</th>"
       "<th>per request |error|</th></tr>\n";
  for (const MetricFidelity& m : f.metrics) {
    std::string name = m.name.substr(0, m.name.size() - 2);
    for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const bool goal = m.name == "itl_s" || (std::fabs(m.error.mean) <= 0.05 && std::fabs(m.error.p99) <= 0.10);
    auto cell = [&](double v, bool bad) { return std::string(bad ? "<td>" : "<td class=\"best\">") + signed_pct(v) + "</td>"; };
    h += "<tr><td>" + name + "</td><td>" + ms(m.live.mean) + " ms</td><td>" + ms(m.sim.mean) + " ms</td>" +
         cell(m.error.mean, std::fabs(m.error.mean) > 0.05 || !goal) + "<td>" + signed_pct(m.error.p50) + "</td><td>" +
         signed_pct(m.error.p90) + "</td><td>" + ms(m.live.p99) + " ms</td><td>" + ms(m.sim.p99) + " ms</td>" +
         cell(m.error.p99, std::fabs(m.error.p99) > 0.10 || !goal) + "<td>" +
         (m.per_request ? fixed(100 * m.mean_abs, 1) + "%" : std::string("–")) + "</td></tr>\n";
  }
  h += "</table></div>\n<p class=\"lead\">Error = (simulated − measured) / measured; green where the project's goal holds "
       "(mean within 5%, p99 within 10%). ITL compares the pooled token gaps of the two summaries.</p>\n";
  if (!f.nodes.empty()) {
    h += "<div class=\"table-wrap\"><table class=\"fidelity-nodes\">\n<tr><th>node</th><th>iterations</th>"
         "<th>measured busy (s)</th><th>predicted (s)</th><th>total error</th><th>per iteration |error|</th>"
         "<th>p90 |error|</th><th>bias</th></tr>\n";
    for (const NodeFidelity& n : f.nodes) {
      h += "<tr><td>" + esc(n.node) + "</td><td>" + count_text(n.iterations) + "</td><td>" + sec(n.measured_s) + "</td><td>" +
           sec(n.predicted_s) + "</td><td>" + signed_pct(n.total_error) + "</td><td>" + fixed(100 * n.mean_abs, 1) +
           "%</td><td>" + fixed(100 * n.p90_abs, 1) + "%</td><td>" + signed_pct(n.mean_signed) + "</td></tr>\n";
    }
    h += "</table></div>\n<p class=\"lead\">Each live iteration (finished − started, from iterations.csv) against "
         "the calibrated model's run() time for its composition.</p>\n";
  }
  if (f.requests.empty()) {
    return h + absent("fidelity-requests-absent-" + std::to_string(index),
                      "No <code>fidelity_requests.csv</code> beside fidelity.json: no per-request plots.");
  }
  h += "<div class=\"grid\">\n";
  const FidelityMetric metrics[] = {FidelityMetric::kTtft, FidelityMetric::kTpot, FidelityMetric::kE2e};
  for (const FidelityMetric m : metrics) {
    h += figure(render_svg(fidelity_scatter(f, m, index)),
                "Each request's simulated latency against its measured one; dots above the diagonal were predicted "
                "slower than they ran.");
    h += figure(render_svg(fidelity_cdf(f, m, index)),
                "The measured and the simulated distributions over the same requests: where the curves part, the "
                "percentiles disagree.");
  }
  return h + "</div>\n";
}

std::string money(double per_hour) { return "$" + fixed(per_hour, 2) + "/h"; }

std::string plan_section(const Plan& p, int index) {
  std::string h = "<h3>" + esc(p.dir.string()) + "</h3>\n<p class=\"lead\">" + esc(p.scenario) + ": " +
                  count_text(p.requests) + " requests at " + num(p.rate_rps) + " req/s; target: " +
                  pct(p.target) + " of all requests within TTFT ≤ " + format_seconds(p.slo_ttft_s) + " and TPOT ≤ " +
                  format_seconds(p.slo_tpot_s) + ". Search (" + esc(p.mode) + "): " + count_text(p.grid) +
                  " candidates, " + count_text(p.simulated) + " simulated (" + count_text(p.stopped_early) +
                  " stopped early), " + count_text(p.unfit) + " unfit, " + count_text(p.pruned_dominated) +
                  " pruned as dominated by a rejected shape, " + count_text(p.pruned_costlier) +
                  " pruned as costlier than the best.</p>\n";
  h += "<div class=\"table-wrap\"><table class=\"plan-best\">\n<tr><th>chosen shape</th><th class=\"text\">policy</th>"
       "<th>cost</th><th>SLO attainment</th><th>goodput (req/s)</th></tr>\n";
  if (p.best) {
    const PlanCandidate& b = p.candidates[static_cast<size_t>(*p.best)];
    h += "<tr><td>" + esc(b.shape) + "</td><td class=\"text\">" + esc(b.policy) + "</td><td>" + money(b.cost_per_hour) +
         "</td><td>" + pct(b.attainment.value_or(0)) + "</td><td>" + num(b.goodput_rps.value_or(0)) + "</td></tr>\n";
  } else {
    h += "<tr><td colspan=\"5\">none: no candidate reaches the target</td></tr>\n";
  }
  h += "</table></div>\n<div class=\"grid\">\n";
  h += figure(render_svg(plan_cost_goodput(p, index)),
              "Every candidate simulated to the end: its cost per hour against its goodput at the offered load. The "
              "frontier joins those with more goodput than every cheaper one; the chosen shape is the cheapest that "
              "reaches the target attainment. Candidates stopped early or pruned are not drawn (the tables say why).");
  // Why every cheaper candidate was rejected, by reason.
  std::map<std::string, int64_t> reasons;
  const double best_cost = p.best ? p.candidates[static_cast<size_t>(*p.best)].cost_per_hour : 1e300;
  for (const PlanCandidate& c : p.candidates) {
    if (c.cost_per_hour < best_cost) ++reasons[c.reason.empty() ? c.status : c.reason];
  }
  std::string t = "<div class=\"table-wrap\"><table class=\"plan-reasons\">\n<tr><th class=\"text\">cheaper "
                  "candidates rejected because</th><th>candidates</th></tr>\n";
  for (const auto& [reason, n] : reasons) {
    t += "<tr><td class=\"text\">" + esc(reason) + "</td><td>" + count_text(n) + "</td></tr>\n";
  }
  t += "</table></div>\n";
  h += "<div>" + t + "</div>\n</div>\n";
  h += "<div class=\"table-wrap\"><table class=\"plan-frontier\">\n<tr><th>cost</th><th>goodput (req/s)</th>"
       "<th>SLO attainment</th><th class=\"text\">shape</th><th class=\"text\">policy</th><th class=\"text\">status</th></tr>\n";
  for (int64_t id : p.frontier) {
    const PlanCandidate& c = p.candidates[static_cast<size_t>(id)];
    h += "<tr><td>" + money(c.cost_per_hour) + "</td><td>" + num(c.goodput_rps.value_or(0)) + "</td><td>" +
         pct(c.attainment.value_or(0)) + "</td><td class=\"text\">" + esc(c.shape) + "</td><td class=\"text\">" +
         esc(c.policy) + "</td><td class=\"text\">" + esc(c.status) + "</td></tr>\n";
  }
  return h + "</table></div>\n";
}

}  // namespace

std::string build_report_html(const ReportInput& in, const ReportOptions& options) {
  const std::vector<Run>& runs = in.runs;
  std::string h;
  h.reserve(1 << 20);
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
       esc(options.title) + "</title>\n<style>" + kCss + "</style>\n</head>\n<body>\n<main>\n";
  h += "<h1>" + esc(options.title) + "</h1>\n";
  std::string inputs;
  for (const std::string& s : options.inputs) inputs += (inputs.empty() ? "" : ", ") + ("<code>" + esc(s) + "</code>");
  h += "<p class=\"lead\">" + std::to_string(runs.size()) + " run" + (runs.size() == 1 ? "" : "s") +
       (in.sweeps.empty() ? "" : ", " + std::to_string(in.sweeps.size()) + " sweep" + (in.sweeps.size() == 1 ? "" : "s")) +
       (inputs.empty() ? "" : " from " + inputs) + ". Made by <code>flowkv report</code>; docs/report.md explains each figure.</p>\n";
  const bool any_fidelity = std::any_of(runs.begin(), runs.end(), [](const Run& r) { return r.fidelity.has_value(); });
  h += std::string("<nav><a href=\"#summary\">Summary</a>") + (in.plans.empty() ? "" : "<a href=\"#plan\">Plan</a>") +
       "<a href=\"#latency\">Latency</a>" + (any_fidelity ? "<a href=\"#fidelity\">Fidelity</a>" : "") +
       "<a href=\"#load\">Load</a><a href=\"#nodes\">Nodes</a><a href=\"#transfers\">KV transfers</a>"
       "<a href=\"#details\">Details</a></nav>\n";
  for (const std::string& n : in.notes) h += "<div class=\"note\">" + esc(n) + "</div>\n";

  h += "<h2 id=\"summary\">Summary</h2>\n";
  h += runs_table(runs);
  h += "<p class=\"lead\">Bold: the best value of a row where lower (latency, failures) or higher (throughput, "
       "goodput) is better.</p>\n";
  h += summary_table(runs);

  if (!in.plans.empty()) {
    h += "<h2 id=\"plan\">Plan: the cheapest shape within the SLOs</h2>\n";
    for (size_t i = 0; i < in.plans.size(); ++i) h += plan_section(in.plans[i], static_cast<int>(i));
  }

  h += "<h2 id=\"latency\">Latency</h2>\n<div class=\"grid\">\n";
  h += figure(render_svg(latency_cdf(runs, LatencyMetric::kTtft)),
              "Share of completed requests whose time to first token (arrival to first output token) is at most "
              "x. The dotted rule is the TTFT SLO; a curve reaching 100% left of it means every request met it.");
  h += figure(render_svg(latency_cdf(runs, LatencyMetric::kTpot)),
              "Time per output token after the first: (E2E − TTFT) / (output tokens − 1), the decode speed a user "
              "sees. The dotted rule is the TPOT SLO.");
  h += figure(render_svg(latency_cdf(runs, LatencyMetric::kE2e)),
              "End-to-end latency from arrival to the last token. Long outputs make this spread over decades, "
              "hence a log axis when the bulk of the values spans more than 50×.");
  h += figure(render_svg(latency_cdf(runs, LatencyMetric::kQueue)),
              "Time from arrival to the request's first prefill iteration: the part of TTFT spent waiting for a "
              "prefill node. A router that balances load shortens it. On a log axis, requests that did not wait "
              "at all sit on the left edge.");
  h += "</div>\n";

  if (any_fidelity) {
    h += "<h2 id=\"fidelity\">Fidelity: simulated against measured</h2>\n";
    for (size_t i = 0; i < runs.size(); ++i) {
      if (runs[i].fidelity) h += fidelity_section(runs[i], static_cast<int>(i));
    }
  }

  h += "<h2 id=\"load\">Load: throughput and goodput against request rate</h2>\n";
  const SweepFigures sweep = sweep_figures(in.sweeps);
  if (sweep.plots.empty()) {
    h += absent("rate-absent",
                "No sweep among the inputs, so there is nothing to plot against the request rate. Run "
                "<code>flowkv sweep</code> over several rate scales and policies and pass its folder to "
                "<code>flowkv report</code>.");
  } else {
    h += "<div class=\"grid\">\n";
    const char* captions[] = {
        "Completed requests per second against the offered rate. Points on the dotted diagonal keep up with the "
        "load; below it the cluster saturates and queues grow.",
        "Requests per second that met both SLOs. The gap to the throughput plot is work done too late to count.",
        "Share of completed requests meeting the SLO; the dotted rule marks the usual 90% target.",
        "90th percentile TTFT; the dotted rule is the TTFT SLO.",
        "90th percentile TPOT; the dotted rule is the TPOT SLO."};
    for (size_t i = 0; i < sweep.plots.size(); ++i) h += figure(render_svg(sweep.plots[i]), captions[i]);
    if (sweep.max_rate) {
      h += figure(render_svg(*sweep.max_rate),
                  "The capacity of each policy under the SLO: the highest offered rate of the sweep at which at least "
                  "90% of requests met it. Rates between the sweep's points are not interpolated.");
    }
    h += "</div>\n";
    for (const Sweep& s : in.sweeps) h += sweep_table(s);
  }

  h += "<h2 id=\"nodes\">Nodes</h2>\n<div class=\"grid\">\n";
  const BarChart util = node_utilization(runs), kv = node_kv_usage(runs);
  h += figure(render_svg(util),
              "Busy time of each node (time running prefill or decode iterations) over the makespan. An idle "
              "prefill pool beside a saturated decode pool is what role flipping corrects.",
              util.width > 700);
  h += figure(render_svg(kv),
              "Mean share of each node's KV blocks in use over the makespan (bar) and the peak (black tick). A peak "
              "at 100% means requests waited for memory or were preempted.",
              kv.width > 700);
  bool any_timeline = false;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (const std::optional<XYPlot> p = kv_over_time(runs[i], static_cast<int>(i))) {
      any_timeline = true;
      h += figure(render_svg(*p), "KV usage of each node over time from the run's timeline.json; dotted rules mark role "
                                  "flips.");
    }
  }
  h += "</div>\n";
  if (!any_timeline) {
    h += absent("kv-time-absent",
                "Over-time KV usage and role flips: no <code>timeline.json</code> with KV counters in the result "
                "folders, so only the per-run means and peaks above are shown. Runs record a timeline when asked "
                "(<code>--timeline</code>).");
  }

  h += "<h2 id=\"transfers\">KV transfers</h2>\n<div class=\"grid\">\n";
  h += figure(render_svg(transfer_scatter(runs)),
              "Time to move each request's KV cache from its prefill node to its decode node, against its prompt "
              "length. Bytes grow with the prompt; a layout that needs many small copies per block pays the per-call "
              "latency many times, which shows as a steeper, higher line.",
              true);
  h += "</div>\n";

  h += "<h2 id=\"details\">Details</h2>\n";
  for (size_t i = 0; i < runs.size(); ++i) h += node_table(runs[i], static_cast<int>(i));
  h += "</main>\n</body>\n</html>\n";
  return h;
}

void write_file_atomically(const fs::path& path, const std::string& content) {
  const fs::path parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
  const fs::path temp = parent / ("." + path.filename().string() + ".tmp-" + std::to_string(::getpid()));
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) throw core::Error(core::ErrorKind::kRuntime, temp.string() + ": cannot write");
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    if (!out) {
      std::error_code ec;
      fs::remove(temp, ec);
      throw core::Error(core::ErrorKind::kRuntime, temp.string() + ": write failed");
    }
  }
  std::error_code ec;
  fs::rename(temp, path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    throw core::Error(core::ErrorKind::kRuntime, path.string() + ": cannot rename into place: " + ec.message());
  }
}

}  // namespace flowkv::report
