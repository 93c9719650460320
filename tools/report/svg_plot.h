// A small SVG plotting module for the HTML report: line and scatter plots on linear or log axes,
// grouped bar charts, reference rules (an SLO, a target, y = x), axes with "nice" ticks and a
// legend. Its output is a self-contained <svg> element (inline attributes, no script, no
// external font or stylesheet needed), meant to be embedded in an HTML page.
//
// Contract:
//  - Pure functions of their input: the same plot gives byte-identical SVG (coordinates are
//    printed with a fixed number of decimals, never in a locale-dependent way).
//  - Never prints NaN or infinity: non-finite points are skipped, points outside a log axis'
//    domain (<= 0) are clamped to its edge.
//  - Structure for tests and tools: the <svg> has id = plot.id, class "plot", and
//    data-series = the number of legend series; each series is a <g class="series"
//    data-name="...">; the title is <text class="title">, the axis labels are
//    <text class="axis-label x|y">. Trend lines drawn beside a series are <g class="trend">.
//  - Ticks: linear axes use steps of 1, 2 or 5 × 10^k; log axes use decades (with 2 and 5
//    between them when the range spans three decades or fewer). Values with units print with
//    SI prefixes (ms, µs; k, M, G).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flowkv::report {

enum class Scale { kLinear, kLog };

enum class UnitKind {
  kSeconds,   // values in seconds: a linear axis picks one prefix (µs, ms or s) for the label
  kCount,     // plain quantities (tokens, req/s): tick labels carry k, M, G suffixes
  kFraction,  // values in [0, 1], shown as percentages
};

struct Axis {
  std::string label;  // "TTFT"
  std::string unit;   // "tokens", "req/s"; for kSeconds the prefix is chosen ("ms"); unused for kFraction
  UnitKind kind = UnitKind::kCount;
  Scale scale = Scale::kLinear;
  std::optional<double> min, max;  // forced bounds of the data range (ticks may round outward)
};

inline Axis make_axis(std::string label, std::string unit, UnitKind kind) {
  Axis a;
  a.label = std::move(label);
  a.unit = std::move(unit);
  a.kind = kind;
  return a;
}

enum class SeriesKind { kLine, kScatter };

struct Series {
  std::string name;
  std::vector<double> x, y;  // same length
  SeriesKind kind = SeriesKind::kLine;
  int color = 0;             // palette index
  bool dashed = false;
  bool markers = false;      // a dot on each point of a line (sparse data such as a sweep)
};

// Appends the empirical CDF of `values` to `s`: at most `max_points` (at least 2) points,
// evenly spaced in rank, each (value, fraction of values at or below it).
void add_cdf_points(std::vector<double> values, size_t max_points, Series& s);

// A line drawn next to a series, in its colour, not in the legend (e.g. a binned median).
struct Trend {
  std::vector<double> x, y;
  int color = 0;
};

struct RefLine {
  enum class Kind { kVertical, kHorizontal, kDiagonal };  // diagonal: y = x
  Kind kind = Kind::kVertical;
  double value = 0;
  std::string label;
  // Widen the axis to show the rule. When false and the value lies beyond the axis, the label
  // is written at the frame's edge with an arrow instead ("TTFT SLO 2 s →").
  bool stretch = true;
};

struct XYPlot {
  std::string id;        // unique in the page
  std::string title;
  std::string subtitle;  // optional, one line under the title
  Axis x, y;
  std::vector<Series> series;
  std::vector<Trend> trends;
  std::vector<RefLine> refs;
  std::string empty_message = "no data";  // drawn in the plot area when no series has a point
  int width = 640, height = 420;
};

struct BarGroup {
  std::string name;             // legend entry
  std::vector<double> values;   // one per category; NaN: no bar
  std::vector<double> markers;  // optional, one per category: a tick drawn across the bar
  int color = 0;
};

struct BarChart {
  std::string id, title, subtitle;
  std::vector<std::string> categories;  // '\n' splits a label over two lines
  std::string x_label;                  // what the categories are ("node")
  std::vector<BarGroup> groups;
  Axis y;
  std::string marker_name;  // legend entry for the markers, when any group has some
  int width = 640, height = 420;
};

std::string render_svg(const XYPlot& plot);
std::string render_svg(const BarChart& chart);

// --- building blocks, public for the tests and the page builder ---

struct Tick {
  double value = 0;
  std::string label;
};

// Ticks covering [lo, hi] with a step of 1, 2 or 5 × 10^k, about `target` of them; the first is
// <= lo and the last >= hi. lo < hi, both finite.
std::vector<double> nice_ticks(double lo, double hi, int target);

// The ticks of an axis over the data range [lo, hi] (widened when lo == hi, and to positive
// values on a log axis), with their labels; `label_suffix` receives what the axis label should
// add in parentheses ("ms", "tokens", "log scale", ...).
std::vector<Tick> axis_ticks(const Axis& axis, double lo, double hi, std::string* label_suffix);

// "0.35", "12", "1.5k", "2M": up to `significant` significant digits, no exponent, no trailing zeros.
std::string format_number(double v, int significant = 3);
// A duration in seconds with its own SI prefix: "250 µs", "12.5 ms", "2 s".
std::string format_seconds(double s, int significant = 3);

const char* palette_color(int index);  // colour-blind-safe categorical palette
std::string escape_xml(std::string_view text);

}  // namespace flowkv::report
