// The HTML report, checked without a browser: every figure is present under its id, each has
// one series per run (or per policy for a sweep), labelled axes and no NaN or infinity in its
// coordinates; folders are recognised by the files in them; bad input names the file; the page
// is byte-identical for the same inputs; big runs are downsampled.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "core/base/error.h"
#include "tests/report/result_fixtures.h"
#include "tools/report/report.h"
#include "tools/report/report_plots.h"
#include "tools/report/results.h"
#include "tools/report/svg_plot.h"

namespace {

namespace fs = std::filesystem;
using namespace flowkv;
using flowkv::fixtures::FakeRun;

class Report : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "flowkv-report-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};

// The <svg ...>...</svg> element with this id; "" when absent.
std::string svg_with_id(const std::string& html, const std::string& id) {
  const size_t at = html.find("id=\"" + id + "\" class=\"plot\"");
  if (at == std::string::npos) return "";
  const size_t start = html.rfind("<svg", at);
  const size_t end = html.find("</svg>", at);
  return html.substr(start, end + 6 - start);
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

std::string axis_label(const std::string& svg, const char* which) {
  const size_t at = svg.find(std::string("class=\"axis-label ") + which + "\"");
  if (at == std::string::npos) return "";
  const size_t start = svg.find('>', at) + 1;
  return svg.substr(start, svg.find("</text>", start) - start);
}

// The first attribute among coordinates and sizes whose value holds "nan" or "inf"; "" if none.
std::string non_finite_attribute(const std::string& svg) {
  static const std::set<std::string> kNumeric = {"x", "y", "cx", "cy", "x1", "x2", "y1", "y2",
                                                 "width", "height", "r", "points", "viewBox"};
  for (size_t eq = svg.find("=\""); eq != std::string::npos; eq = svg.find("=\"", eq + 2)) {
    size_t name_start = eq;
    while (name_start > 0 && (std::isalnum(static_cast<unsigned char>(svg[name_start - 1])) || svg[name_start - 1] == '-')) {
      --name_start;
    }
    const std::string name = svg.substr(name_start, eq - name_start);
    if (!kNumeric.count(name)) continue;
    std::string value = svg.substr(eq + 2, svg.find('"', eq + 2) - eq - 2);
    for (char& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (value.find("nan") != std::string::npos || value.find("inf") != std::string::npos) return name + "=" + value;
  }
  return "";
}

void expect_plot(const std::string& html, const std::string& id, size_t series) {
  SCOPED_TRACE("plot " + id);
  const std::string svg = svg_with_id(html, id);
  ASSERT_FALSE(svg.empty()) << "no <svg id=\"" << id << "\"> in the page";
  EXPECT_EQ(count(svg, "<g class=\"series\""), series);
  EXPECT_NE(svg.find("data-series=\"" + std::to_string(series) + "\""), std::string::npos);
  EXPECT_NE(svg.find("class=\"title\""), std::string::npos);
  EXPECT_FALSE(axis_label(svg, "x").empty()) << "x axis unlabelled";
  EXPECT_FALSE(axis_label(svg, "y").empty()) << "y axis unlabelled";
  // No coordinate or size may be NaN or infinite.
  EXPECT_EQ(non_finite_attribute(svg), "");
}

TEST_F(Report, TwoRunsGiveEveryFigureWithOneSeriesPerRun) {
  FakeRun a;
  a.policy = "round-robin";
  FakeRun b;
  b.policy = "least-loaded";
  b.slowdown = 1.7;
  b.seed = 2;
  b.failed_every = 25;
  fixtures::write_fake_run(dir_ / "rr", a);
  fixtures::write_fake_run(dir_ / "ll", b);
  const report::ReportInput in = report::load_results({dir_ / "rr", dir_ / "ll"});
  ASSERT_EQ(in.runs.size(), 2u);
  EXPECT_EQ(in.runs[0].label, "round-robin");
  EXPECT_EQ(in.runs[1].label, "least-loaded");
  ASSERT_TRUE(in.runs[1].requests.has_value());
  EXPECT_EQ(in.runs[1].requests->size(), 300u);
  EXPECT_EQ(in.runs[1].summary.failed, 12);  // every 25th of 300

  const std::string html = report::build_report_html(in, {});
  for (const char* id : {"cdf-ttft", "cdf-tpot", "cdf-e2e", "cdf-queue", "node-utilization", "node-kv", "transfer-vs-prompt"}) {
    expect_plot(html, id, 2);
  }
  // The SLO is marked on the TTFT and TPOT CDFs (0.5 s and 50 ms in the fake scenario).
  EXPECT_NE(svg_with_id(html, "cdf-ttft").find("TTFT SLO 500 ms"), std::string::npos);
  EXPECT_NE(svg_with_id(html, "cdf-tpot").find("TPOT SLO 50 ms"), std::string::npos);
  // Without a sweep or a timeline the page says what is missing instead of drawing empty axes.
  EXPECT_NE(html.find("id=\"rate-absent\""), std::string::npos);
  EXPECT_NE(html.find("id=\"kv-time-absent\""), std::string::npos);
  EXPECT_EQ(svg_with_id(html, "rate-throughput"), "");
  // Self-contained: no script and nothing fetched.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  // Summary table: one column per run.
  EXPECT_NE(html.find("id=\"summary-table\""), std::string::npos);
  EXPECT_EQ(count(html, "<td>completed</td>"), 1u);
}

TEST_F(Report, SamePolicyTwiceGetsDistinctLabels) {
  FakeRun a;
  fixtures::write_fake_run(dir_ / "first", a);
  a.seed = 9;
  fixtures::write_fake_run(dir_ / "second", a);
  const report::ReportInput in = report::load_results({dir_ / "first", dir_ / "second"});
  ASSERT_EQ(in.runs.size(), 2u);
  EXPECT_EQ(in.runs[0].label, "round-robin (first)");
  EXPECT_EQ(in.runs[1].label, "round-robin (second)");
  // A compare folder and a sweep with the same policies: the named folder tells them apart.
  std::vector<FakeRun> runs(1);
  fixtures::write_fake_compare(dir_ / "cmp", runs);
  fixtures::write_fake_sweep(dir_ / "sw", {"round-robin"}, {1.0});
  const report::ReportInput mixed = report::load_results({dir_ / "cmp", dir_ / "first", dir_ / "sw"});
  ASSERT_EQ(mixed.runs.size(), 3u);
  EXPECT_EQ(mixed.runs[0].label, "round-robin (cmp)");
  EXPECT_EQ(mixed.runs[1].label, "round-robin (first)");
  EXPECT_EQ(mixed.runs[2].label, "round-robin @ 25 req/s");
}

TEST_F(Report, ALiveRunSitsBesideItsSimulation) {
  // flowkv live writes the simulator's files plus a "live" object in summary.json: the legend
  // tells the two runs of one scenario apart by backend.
  FakeRun a;
  nlohmann::ordered_json summary = fixtures::write_fake_run(dir_ / "live-run", a);
  summary["live"] = {{"device", "cpu"}};
  fixtures::write_text(dir_ / "live-run" / "summary.json", summary.dump(2));
  fixtures::write_fake_run(dir_ / "sim-run", a);
  const report::ReportInput in = report::load_results({dir_ / "live-run", dir_ / "sim-run"});
  ASSERT_EQ(in.runs.size(), 2u);
  EXPECT_EQ(in.runs[0].label, "round-robin (live)");
  EXPECT_EQ(in.runs[1].label, "round-robin (sim)");
}

TEST_F(Report, CompareFolderGivesOneRunPerPolicyWithItsRequests) {
  std::vector<FakeRun> runs(3);
  runs[0].policy = "round-robin";
  runs[1].policy = "least-loaded";
  runs[1].slowdown = 1.3;
  runs[2].policy = "flowkv";
  runs[2].slowdown = 0.8;
  fixtures::write_fake_compare(dir_ / "cmp", runs);
  const report::ReportInput in = report::load_results({dir_ / "cmp"});
  ASSERT_EQ(in.runs.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(in.runs[i].label, runs[i].policy);
    EXPECT_TRUE(in.runs[i].requests.has_value()) << runs[i].policy;
  }
  EXPECT_TRUE(in.notes.empty());
  const std::string html = report::build_report_html(in, {});
  for (const char* id : {"cdf-ttft", "cdf-tpot", "cdf-e2e", "cdf-queue", "node-utilization", "node-kv", "transfer-vs-prompt"}) {
    expect_plot(html, id, 3);
  }
}

TEST_F(Report, CompareWithoutSubFoldersStillShowsItsSummaries) {
  std::vector<FakeRun> runs(2);
  runs[1].policy = "least-loaded";
  fixtures::write_fake_compare(dir_ / "cmp", runs);
  fs::remove_all(dir_ / "cmp" / "least-loaded");
  const report::ReportInput in = report::load_results({dir_ / "cmp"});
  ASSERT_EQ(in.runs.size(), 2u);
  EXPECT_FALSE(in.runs[1].requests.has_value());
  ASSERT_EQ(in.notes.size(), 1u);
  EXPECT_NE(in.notes[0].find("least-loaded"), std::string::npos);
  const std::string html = report::build_report_html(in, {});
  expect_plot(html, "cdf-ttft", 2);  // the legend still lists it, marked "(no requests.csv)"
  EXPECT_NE(svg_with_id(html, "cdf-ttft").find("least-loaded (no requests.csv)"), std::string::npos);
}

TEST_F(Report, SweepGivesRatePlotsWithOneLinePerPolicyAndTheSlo) {
  fixtures::write_fake_sweep(dir_ / "sw", {"round-robin", "flowkv"}, {0.5, 1.0, 2.0});
  const report::ReportInput in = report::load_results({dir_ / "sw"});
  ASSERT_EQ(in.sweeps.size(), 1u);
  EXPECT_EQ(in.sweeps[0].cells.size(), 6u);
  // The per-run plots get one cell per policy, at the middle rate.
  ASSERT_EQ(in.runs.size(), 2u);
  EXPECT_EQ(in.runs[0].summary.rate_scale, 1.0);
  EXPECT_EQ(in.runs[1].summary.rate_scale, 1.0);
  const std::string html = report::build_report_html(in, {});
  for (const char* id : {"rate-throughput", "rate-goodput", "rate-slo", "rate-ttft", "rate-tpot", "rate-max-slo"}) {
    expect_plot(html, id, 2);
  }
  EXPECT_NE(svg_with_id(html, "rate-ttft").find("SLO 500 ms"), std::string::npos);
  EXPECT_NE(svg_with_id(html, "rate-slo").find("90% target"), std::string::npos);
  EXPECT_NE(svg_with_id(html, "rate-goodput").find("TTFT ≤ 500 ms and TPOT ≤ 50 ms"), std::string::npos);
  // Each line has one point per rate: three markers per series.
  const std::string tp = svg_with_id(html, "rate-throughput");
  EXPECT_EQ(count(tp, "r=\"3.2\""), 6u);
  EXPECT_EQ(html.find("id=\"rate-absent\""), std::string::npos);
}

TEST_F(Report, TimelineCountersGiveKvOverTimeWithRoleFlips) {
  FakeRun a;
  fixtures::write_fake_run(dir_ / "run", a);
  fixtures::write_text(dir_ / "run" / "timeline.json", R"json({"traceEvents": [
    {"ph": "M", "name": "process_name", "pid": 1, "args": {"name": "P0 (H100-SXM, prefill)"}},
    {"ph": "M", "name": "process_name", "pid": 2, "args": {"name": "D0 (H100-SXM, decode)"}},
    {"ph": "X", "cat": "iteration", "name": "prefill", "pid": 1, "tid": 1, "ts": 0, "dur": 5},
    {"ph": "C", "name": "KV usage", "pid": 1, "ts": 0, "args": {"%": 10.00}},
    {"ph": "C", "name": "KV usage", "pid": 1, "ts": 1000000, "args": {"%": 40.00}},
    {"ph": "C", "name": "KV usage", "pid": 2, "ts": 0, "args": {"%": 20.00}},
    {"ph": "C", "name": "KV usage", "pid": 2, "ts": 2000000.5, "args": {"%": 70.00}},
    {"ph": "C", "name": "queued prefill", "pid": 1, "ts": 0, "args": {"tokens": 300}},
    {"ph": "i", "cat": "role", "name": "role prefill -> decode", "pid": 1, "tid": 3, "ts": 1500000, "s": "p"}
  ]})json");
  const report::ReportInput in = report::load_results({dir_ / "run"});
  ASSERT_TRUE(in.runs[0].timeline.has_value());
  EXPECT_EQ(in.runs[0].timeline->kv.size(), 2u);
  ASSERT_EQ(in.runs[0].timeline->flips.size(), 1u);
  EXPECT_DOUBLE_EQ(in.runs[0].timeline->flips[0].t_s, 1.5);
  EXPECT_EQ(in.runs[0].timeline->kv[1].node, "P0");  // (node, counter) order: D0 first
  EXPECT_DOUBLE_EQ(in.runs[0].timeline->kv[1].value[1], 0.4);  // "%" read as a fraction
  const std::string html = report::build_report_html(in, {});
  expect_plot(html, "kv-time-0", 2);  // one line per node
  EXPECT_NE(svg_with_id(html, "kv-time-0").find("P0: role prefill -&gt; decode"), std::string::npos);
  EXPECT_EQ(html.find("id=\"kv-time-absent\""), std::string::npos);
}

TEST_F(Report, BigRunsAreDownsampledDeterministically) {
  FakeRun a;
  a.requests = 20000;
  fixtures::write_fake_run(dir_ / "big", a);
  const report::ReportInput in = report::load_results({dir_ / "big"});
  const std::string html = report::build_report_html(in, {});
  const std::string scatter = svg_with_id(html, "transfer-vs-prompt");
  EXPECT_EQ(count(scatter, "r=\"2.2\""), 1500u);  // data points, not the legend swatch
  const std::string cdf = svg_with_id(html, "cdf-ttft");
  const size_t pts = cdf.find("<polyline points=\"");
  ASSERT_NE(pts, std::string::npos);
  const std::string points = cdf.substr(pts, cdf.find('"', pts + 18) - pts);
  EXPECT_LE(count(points, ","), 400u);
  EXPECT_GE(count(points, ","), 300u);
  EXPECT_EQ(html, report::build_report_html(report::load_results({dir_ / "big"}), {}));
  EXPECT_LT(html.size(), 600u * 1024);
}

TEST_F(Report, AFolderWithoutResultsIsAnInputErrorNamingIt) {
  fs::create_directories(dir_ / "empty");
  try {
    report::load_results({dir_ / "empty"});
    FAIL() << "expected an error";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_NE(std::string(e.what()).find((dir_ / "empty").string() + ": no result files"), std::string::npos) << e.what();
  }
}

TEST_F(Report, MalformedFilesNameTheFileAndWhere) {
  FakeRun a;
  auto expect_error = [&](const std::string& needle) {
    try {
      report::load_results({dir_ / "run"});
      ADD_FAILURE() << "expected an error containing " << needle;
    } catch (const core::Error& e) {
      EXPECT_EQ(e.exit_code(), 2);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  // Truncated JSON.
  const nlohmann::ordered_json summary = fixtures::write_fake_run(dir_ / "run", a);
  fixtures::write_text(dir_ / "run" / "summary.json", summary.dump().substr(0, 200));
  expect_error((dir_ / "run" / "summary.json").string() + ": malformed JSON");
  // A key of the wrong type.
  nlohmann::ordered_json bad = summary;
  bad["ttft_s"]["p90"] = "fast";
  fixtures::write_text(dir_ / "run" / "summary.json", bad.dump());
  expect_error("summary.json: ttft_s.p90: expected a number, got string \"fast\"");
  bad = summary;
  bad["nodes"][1].erase("utilization");
  fixtures::write_text(dir_ / "run" / "summary.json", bad.dump());
  expect_error("summary.json: nodes[1].utilization: expected a number, missing");
  // A bad requests.csv row names its line and column.
  fixtures::write_fake_run(dir_ / "run", a);
  std::ifstream in(dir_ / "run" / "requests.csv");
  std::string header, row1, row2;
  std::getline(in, header);
  std::getline(in, row1);
  std::getline(in, row2);
  in.close();
  std::vector<std::string> fields;
  for (size_t start = 0;;) {
    const size_t comma = row2.find(',', start);
    fields.push_back(row2.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  fields[3] = "abc";  // prompt_tokens
  std::string bad_row;
  for (const std::string& f : fields) bad_row += (bad_row.empty() ? "" : ",") + f;
  fixtures::write_text(dir_ / "run" / "requests.csv", header + "\n" + row1 + "\n" + bad_row + "\n");
  expect_error("requests.csv:3: column 'prompt_tokens': expected a number, got 'abc'");
  fixtures::write_text(dir_ / "run" / "requests.csv", header + "\n" + row1 + ",extra\n");
  expect_error("requests.csv:2: expected 25 fields, found 26");
  fixtures::write_text(dir_ / "run" / "requests.csv", "id,status\n");
  expect_error("requests.csv:1: missing column 'prompt_tokens'");
  // A sweep cell whose folder is missing.
  fixtures::write_fake_sweep(dir_ / "sw", {"rr"}, {1.0});
  fs::remove_all(dir_ / "sw" / "rr-x100");
  try {
    report::load_results({dir_ / "sw"});
    ADD_FAILURE() << "expected an error";
  } catch (const core::Error& e) {
    EXPECT_NE(std::string(e.what()).find("sweep.json: cells[0].dir: no summary.json"), std::string::npos) << e.what();
  }
}

TEST_F(Report, WriteIsAtomicAndLeavesNoTemporary) {
  const fs::path out = dir_ / "report.html";
  report::write_file_atomically(out, "<html>one</html>");
  report::write_file_atomically(out, "<html>two</html>");
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "<html>two</html>");
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir_)) files += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 1u);
  EXPECT_THROW(report::write_file_atomically(dir_ / "no" / "such" / "dir" / "r.html", "x"), core::Error);
}

// --- the plotting module ---

TEST(SvgPlot, NiceTicksUseStepsOf125AndCoverTheRange) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    const double scale = std::pow(10.0, static_cast<double>(rng() % 16) - 8);
    const double lo = static_cast<double>(rng() % 1000) * scale * (rng() % 3 == 0 ? -1 : 1);
    const double hi = lo + static_cast<double>(1 + rng() % 1000) * scale;
    const std::vector<double> t = report::nice_ticks(lo, hi, 6);
    ASSERT_GE(t.size(), 3u) << lo << " " << hi;
    ASSERT_LE(t.size(), 13u) << lo << " " << hi;
    const double step = t[1] - t[0];
    EXPECT_LE(t.front(), lo + step * 1e-6);  // up to rounding of i * step
    EXPECT_GE(t.back(), hi - step * 1e-6);
    const double mantissa = step / std::pow(10.0, std::floor(std::log10(step) + 1e-9));
    EXPECT_TRUE(std::fabs(mantissa - 1) < 1e-6 || std::fabs(mantissa - 2) < 1e-6 || std::fabs(mantissa - 5) < 1e-6)
        << "step " << step;
  }
  EXPECT_EQ(report::nice_ticks(0, 7.3, 6), (std::vector<double>{0, 2, 4, 6, 8}));
}

TEST(SvgPlot, AxisTicksCarryUnitsAndSiPrefixes) {
  std::string suffix;
  report::Axis ms = report::make_axis("TTFT", "s", report::UnitKind::kSeconds);
  std::vector<report::Tick> t = report::axis_ticks(ms, 0, 0.45, &suffix);
  EXPECT_EQ(suffix, "ms");
  ASSERT_EQ(t.size(), 6u);
  EXPECT_EQ(t[1].label, "100");
  EXPECT_EQ(t.back().label, "500");
  ms.scale = report::Scale::kLog;
  t = report::axis_ticks(ms, 0.0012, 8.0, &suffix);
  EXPECT_EQ(suffix, "log scale");
  std::vector<std::string> labels;
  for (const auto& x : t) labels.push_back(x.label);
  EXPECT_EQ(labels, (std::vector<std::string>{"1 ms", "10 ms", "100 ms", "1 s", "10 s"}));
  // Within three decades, 1-2-5 labels; beyond, decades with unlabelled ends at 1-2-5 values.
  t = report::axis_ticks(ms, 0.003, 0.15, &suffix);
  EXPECT_EQ(t.front().label, "2 ms");
  EXPECT_EQ(t.back().label, "200 ms");
  EXPECT_EQ(t.size(), 7u);  // 2, 5, 10, 20, 50, 100, 200 ms
  report::Axis tokens = report::make_axis("prompt length", "tokens", report::UnitKind::kCount);
  t = report::axis_ticks(tokens, 0, 38000, &suffix);
  EXPECT_EQ(suffix, "tokens");
  EXPECT_EQ(t[1].label, "10k");
  tokens.scale = report::Scale::kLog;
  t = report::axis_ticks(tokens, 7, 8000, &suffix);
  EXPECT_EQ(t.front().value, 5);
  EXPECT_EQ(t.front().label, "");
  EXPECT_EQ(t[1].label, "10");
  EXPECT_EQ(t.back().value, 10000);
  EXPECT_EQ(t.back().label, "10k");
  report::Axis frac = report::make_axis("share", "", report::UnitKind::kFraction);
  t = report::axis_ticks(frac, 0, 1, &suffix);
  EXPECT_EQ(t.back().label, "100%");
  EXPECT_EQ(report::format_number(12345), "12.3k");
  EXPECT_EQ(report::format_number(0.01234), "0.0123");
  EXPECT_EQ(report::format_seconds(0.00025), "250 µs");
}

TEST(SvgPlot, NonFiniteAndNonPositivePointsNeverReachTheSvg) {
  report::XYPlot p;
  p.id = "t";
  p.title = "t";
  p.x = report::make_axis("x", "s", report::UnitKind::kSeconds);
  p.x.scale = report::Scale::kLog;
  p.y = report::make_axis("y", "", report::UnitKind::kCount);
  report::Series s;
  s.name = "a<b";
  s.x = {0.0, 1e-3, std::nan(""), 1.0, -1.0, 10.0};
  s.y = {1, 2, 3, std::numeric_limits<double>::infinity(), 5, 6};
  p.series.push_back(s);
  const std::string svg = report::render_svg(p);
  EXPECT_EQ(non_finite_attribute(svg), "");
  EXPECT_EQ(non_finite_attribute("<circle cx=\"12\" cy=\"-NaN\"/>"), "cy=-nan");  // the check itself bites
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  EXPECT_EQ(svg.find("inf"), std::string::npos);
  EXPECT_NE(svg.find("data-name=\"a&lt;b\""), std::string::npos);
  // An empty plot still has axes and says so.
  report::XYPlot empty = p;
  empty.series.clear();
  const std::string e = report::render_svg(empty);
  EXPECT_NE(e.find("no data"), std::string::npos);
  EXPECT_EQ(e.find("nan"), std::string::npos);
}

TEST(SvgPlot, AFarAwaySloIsNamedAtTheEdgeInsteadOfSquashingTheData) {
  report::XYPlot p;
  p.id = "t";
  p.title = "t";
  p.x = report::make_axis("TPOT", "s", report::UnitKind::kSeconds);
  p.y = report::make_axis("share", "", report::UnitKind::kFraction);
  report::Series s;
  s.name = "run";
  s.x = {0.008, 0.009, 0.011};
  s.y = {0.1, 0.5, 1.0};
  p.series.push_back(s);
  report::RefLine slo{report::RefLine::Kind::kVertical, 0.1, "TPOT SLO 100 ms"};
  slo.stretch = false;
  p.refs.push_back(slo);
  const std::string far = report::render_svg(p);
  EXPECT_NE(far.find("TPOT SLO 100 ms →"), std::string::npos);
  EXPECT_EQ(far.find("stroke-dasharray=\"2 3\""), std::string::npos);  // no rule drawn
  EXPECT_EQ(far.find(">100<"), std::string::npos);                      // the axis stays near the data
  p.refs[0].stretch = true;
  const std::string near = report::render_svg(p);
  EXPECT_NE(near.find("stroke-dasharray=\"2 3\""), std::string::npos);
  EXPECT_NE(near.find(">100<"), std::string::npos);
}

// Role flips close together: their labels are stacked in rows and never overlap; those that find no
// room keep the label as a tooltip of their rule, so every rule is still drawn and named.
TEST(SvgPlot, CrowdedRuleLabelsNeverOverlap) {
  report::XYPlot p;
  p.id = "t";
  p.title = "t";
  p.x = report::make_axis("time", "s", report::UnitKind::kSeconds);
  p.y = report::make_axis("KV", "", report::UnitKind::kFraction);
  report::Series s;
  s.name = "D0";
  s.x = {0, 100};
  s.y = {0, 1};
  p.series.push_back(s);
  for (int i = 0; i < 12; ++i) {
    std::string label = std::to_string(i);  // (not "D" + ...: g++ 12 warns falsely on it, -Wrestrict)
    label.insert(label.begin(), 'D');
    label += ": decode -> prefill";
    p.refs.push_back({report::RefLine::Kind::kVertical, 20.0 + 2.0 * i, label});
  }
  const std::string svg = report::render_svg(p);
  struct Label {
    double x, y;
    std::string anchor;
  };
  std::vector<Label> labels;
  int tooltips = 0;
  for (size_t at = svg.find("<g class=\"ref\""); at != std::string::npos; at = svg.find("<g class=\"ref\"", at + 1)) {
    const size_t end = svg.find("</g>", at);
    const std::string g = svg.substr(at, end - at);
    ASSERT_NE(g.find("<line"), std::string::npos) << g;
    if (g.find("<title>") != std::string::npos) {
      ++tooltips;
      EXPECT_EQ(g.find("<text"), std::string::npos) << g;
      continue;
    }
    const size_t t = g.find("<text x=\"");
    ASSERT_NE(t, std::string::npos) << g;
    const size_t ys = g.find("y=\"", t) + 3;
    const size_t as = g.find("text-anchor=\"", t) + 13;
    labels.push_back({std::stod(g.substr(t + 9)), std::stod(g.substr(ys)), g.substr(as, g.find('"', as) - as)});
  }
  EXPECT_EQ(static_cast<int>(labels.size()) + tooltips, 12);
  EXPECT_GT(tooltips, 0);
  EXPECT_GE(labels.size(), 3u);
  // Same row (same y): the text extents, about 6 px per character, must not meet.
  const double width = 6.0 * std::string("D0: decode -> prefill").size();
  for (size_t i = 0; i < labels.size(); ++i) {
    for (size_t j = i + 1; j < labels.size(); ++j) {
      if (labels[i].y != labels[j].y) continue;
      const double a0 = labels[i].anchor == "start" ? labels[i].x : labels[i].x - width;
      const double b0 = labels[j].anchor == "start" ? labels[j].x : labels[j].x - width;
      EXPECT_TRUE(a0 + width <= b0 || b0 + width <= a0) << "labels " << i << " and " << j << " overlap";
    }
  }
}

}  // namespace
