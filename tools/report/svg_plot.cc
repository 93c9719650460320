#include "tools/report/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>

namespace flowkv::report {
namespace {

constexpr double kCharWidth = 6.6;  // average width of a 12px sans-serif character, for layout
constexpr const char* kGrid = "#e6e6e6";
constexpr const char* kAxis = "#555";
constexpr const char* kText = "#222";
constexpr const char* kMuted = "#666";

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (s == "-0" || s.find_first_not_of("-0.") == std::string::npos) {
    s.erase(0, s[0] == '-' ? 1 : 0);  // never "-0.0"
  }
  return s;
}

std::string strip_zeros(std::string s) {
  if (s.find('.') == std::string::npos) return s;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// Pixel coordinate with one decimal: enough for a screen, stable, short.
std::string px(double v) { return fixed(v, 1); }

// Decimals needed to print multiples of `step` exactly (step is 1, 2 or 5 × 10^k).
int decimals_for_step(double step) {
  if (!(step > 0)) return 0;
  return std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
}

bool finite(double v) { return std::isfinite(v); }

double text_width(std::string_view s, double char_width = kCharWidth) {
  // Count code points, not bytes, so "µ" or "≤" counts once.
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80 ? 1 : 0;
  return static_cast<double>(n) * char_width;
}

struct Mapping {
  Scale scale = Scale::kLinear;
  double lo = 0, hi = 1;        // data domain
  double p0 = 0, p1 = 1;        // pixel range
  double operator()(double v) const {
    double f;
    if (scale == Scale::kLog) {
      v = std::clamp(v > 0 ? v : lo, lo, hi);
      f = (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
    } else {
      f = (v - lo) / (hi - lo);
    }
    return p0 + f * (p1 - p0);
  }
};

const char* const kPalette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00",
                                "#56B4E9", "#7F3C8D", "#3A3A3A", "#B8860B", "#1B9E77"};

// Largest 1/2/5 × 10^k <= v (or smallest >= v when `up`), v > 0.
double round125(double v, bool up) {
  const double mag = std::pow(10.0, std::floor(std::log10(v)));
  const double m = v / mag;
  const double steps[] = {1, 2, 5, 10};
  if (up) {
    for (double s : steps) {
      if (s * mag >= v * (1 - 1e-12)) return s * mag;
    }
    return 10 * mag;
  }
  double best = mag;
  for (double s : steps) {
    if (s <= m * (1 + 1e-12)) best = s * mag;
  }
  return best;
}

std::string tick_label_log(const Axis& axis, double v) {
  switch (axis.kind) {
    case UnitKind::kSeconds: return format_seconds(v, 2);
    case UnitKind::kFraction: return strip_zeros(fixed(v * 100, 4)) + "%";
    case UnitKind::kCount: return format_number(v, 2);
  }
  return format_number(v, 2);
}

struct Frame {
  double left = 0, top = 0, right = 0, bottom = 0;
};

// Title, subtitle and the legend rows; returns the y below them.
double draw_header(std::string& out, const std::string& title, const std::string& subtitle, double width) {
  out += "<text class=\"title\" x=\"12\" y=\"22\" font-size=\"15\" font-weight=\"600\" fill=\"" +
         std::string(kText) + "\">" + escape_xml(title) + "</text>\n";
  double y = 30;
  if (!subtitle.empty()) {
    out += "<text class=\"subtitle\" x=\"12\" y=\"42\" font-size=\"11.5\" fill=\"" + std::string(kMuted) + "\">" +
           escape_xml(subtitle) + "</text>\n";
    y = 48;
  }
  (void)width;
  return y;
}

struct LegendEntry {
  std::string name;
  int color = 0;
  bool dashed = false;
  enum class Swatch { kLine, kDot, kBox, kMarker } swatch = Swatch::kLine;
};

double legend_height(const std::vector<LegendEntry>& entries, double x0, double x1) {
  if (entries.empty()) return 0;
  double x = x0;
  int rows = 1;
  for (const LegendEntry& e : entries) {
    const double w = 28 + text_width(e.name) + 14;
    if (x + w > x1 && x > x0) {
      ++rows;
      x = x0;
    }
    x += w;
  }
  return rows * 17.0 + 4;
}

void draw_legend(std::string& out, const std::vector<LegendEntry>& entries, double x0, double x1, double y0) {
  if (entries.empty()) return;
  out += "<g class=\"legend\" font-size=\"12\" fill=\"" + std::string(kText) + "\">\n";
  double x = x0, y = y0 + 12;
  for (const LegendEntry& e : entries) {
    const double w = 28 + text_width(e.name) + 14;
    if (x + w > x1 && x > x0) {
      x = x0;
      y += 17;
    }
    const std::string color = palette_color(e.color);
    switch (e.swatch) {
      case LegendEntry::Swatch::kLine:
        out += "<line x1=\"" + px(x) + "\" y1=\"" + px(y - 4) + "\" x2=\"" + px(x + 22) + "\" y2=\"" + px(y - 4) +
               "\" stroke=\"" + color + "\" stroke-width=\"2.5\"" +
               (e.dashed ? " stroke-dasharray=\"6 3\"" : "") + "/>";
        break;
      case LegendEntry::Swatch::kDot:
        out += "<circle cx=\"" + px(x + 11) + "\" cy=\"" + px(y - 4) + "\" r=\"4\" fill=\"" + color + "\"/>";
        break;
      case LegendEntry::Swatch::kBox:
        out += "<rect x=\"" + px(x + 4) + "\" y=\"" + px(y - 10) + "\" width=\"14\" height=\"12\" fill=\"" + color +
               "\"/>";
        break;
      case LegendEntry::Swatch::kMarker:
        out += "<line x1=\"" + px(x + 3) + "\" y1=\"" + px(y - 4) + "\" x2=\"" + px(x + 19) + "\" y2=\"" +
               px(y - 4) + "\" stroke=\"#111\" stroke-width=\"2.5\"/>";
        break;
    }
    out += "<text x=\"" + px(x + 28) + "\" y=\"" + px(y) + "\">" + escape_xml(e.name) + "</text>\n";
    x += w;
  }
  out += "</g>\n";
}

std::string axis_label_text(const Axis& axis, const std::string& suffix) {
  return suffix.empty() ? axis.label : axis.label + " (" + suffix + ")";
}

double max_label_width(const std::vector<Tick>& ticks) {
  double w = 0;
  for (const Tick& t : ticks) w = std::max(w, text_width(t.label, 6.2));
  return w;
}

void draw_y_axis(std::string& out, const Frame& f, const Mapping& my, const std::vector<Tick>& ticks,
                 const std::string& label) {
  out += "<g class=\"axis y\" font-size=\"11\" fill=\"" + std::string(kText) + "\">\n";
  for (const Tick& t : ticks) {
    const double y = my(t.value);
    out += "<line x1=\"" + px(f.left) + "\" y1=\"" + px(y) + "\" x2=\"" + px(f.right) + "\" y2=\"" + px(y) +
           "\" stroke=\"" + kGrid + "\"/>";
    if (!t.label.empty()) {
      out += "<text x=\"" + px(f.left - 6) + "\" y=\"" + px(y + 4) + "\" text-anchor=\"end\">" +
             escape_xml(t.label) + "</text>";
    }
    out += "\n";
  }
  out += "</g>\n";
  const double cy = (f.top + f.bottom) / 2;
  out += "<text class=\"axis-label y\" x=\"14\" y=\"" + px(cy) + "\" transform=\"rotate(-90 14 " + px(cy) +
         ")\" text-anchor=\"middle\" font-size=\"12.5\" fill=\"" + kText + "\">" + escape_xml(label) + "</text>\n";
}

void draw_x_axis(std::string& out, const Frame& f, const Mapping& mx, const std::vector<Tick>& ticks,
                 const std::string& label, double height) {
  out += "<g class=\"axis x\" font-size=\"11\" fill=\"" + std::string(kText) + "\">\n";
  // Skip labels that would collide with the previous one (a long log axis): keep the gridline.
  double last_end = -1e9;
  for (const Tick& t : ticks) {
    const double x = mx(t.value);
    out += "<line x1=\"" + px(x) + "\" y1=\"" + px(f.top) + "\" x2=\"" + px(x) + "\" y2=\"" + px(f.bottom) +
           "\" stroke=\"" + kGrid + "\"/>";
    const double w = text_width(t.label, 6.2);
    if (!t.label.empty() && x - w / 2 > last_end + 4) {
      out += "<text x=\"" + px(x) + "\" y=\"" + px(f.bottom + 16) + "\" text-anchor=\"middle\">" +
             escape_xml(t.label) + "</text>";
      last_end = x + w / 2;
    }
    out += "\n";
  }
  out += "</g>\n";
  out += "<text class=\"axis-label x\" x=\"" + px((f.left + f.right) / 2) + "\" y=\"" + px(height - 10) +
         "\" text-anchor=\"middle\" font-size=\"12.5\" fill=\"" + kText + "\">" + escape_xml(label) + "</text>\n";
}

void draw_frame(std::string& out, const Frame& f) {
  out += "<rect x=\"" + px(f.left) + "\" y=\"" + px(f.top) + "\" width=\"" + px(f.right - f.left) + "\" height=\"" +
         px(f.bottom - f.top) + "\" fill=\"none\" stroke=\"" + kAxis + "\"/>\n";
}

void open_svg(std::string& out, const std::string& id, const std::string& title, int width, int height,
              size_t series) {
  out += "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"" + escape_xml(id) + "\" class=\"plot\" viewBox=\"0 0 " +
         std::to_string(width) + " " + std::to_string(height) + "\" width=\"" + std::to_string(width) +
         "\" height=\"" + std::to_string(height) + "\" role=\"img\" aria-label=\"" + escape_xml(title) +
         "\" data-series=\"" + std::to_string(series) +
         "\" font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif\">\n";
  out += "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n";
}

// Data range of a set of values on an axis, positive values only for a log axis.
void extend(double v, Scale scale, double& lo, double& hi) {
  if (!finite(v) || (scale == Scale::kLog && v <= 0)) return;
  lo = std::min(lo, v);
  hi = std::max(hi, v);
}

}  // namespace

const char* palette_color(int index) {
  const int n = static_cast<int>(sizeof kPalette / sizeof kPalette[0]);
  return kPalette[((index % n) + n) % n];
}

std::string escape_xml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string format_number(double v, int significant) {
  if (!finite(v)) return "n/a";
  if (v == 0) return "0";
  const double a = std::fabs(v);
  const char* suffix = "";
  double scaled = v;
  if (a >= 1e9 * (1 - 5e-4)) {
    scaled = v / 1e9;
    suffix = "G";
  } else if (a >= 1e6 * (1 - 5e-4)) {
    scaled = v / 1e6;
    suffix = "M";
  } else if (a >= 1e4 * (1 - 5e-4)) {
    scaled = v / 1e3;
    suffix = "k";
  }
  const double sa = std::fabs(scaled);
  const int digits_before = sa >= 1 ? static_cast<int>(std::floor(std::log10(sa))) + 1 : 0;
  int decimals = std::max(0, significant - digits_before);
  if (sa < 1) decimals = std::max(0, significant - 1 - static_cast<int>(std::floor(std::log10(sa))));
  decimals = std::min(decimals, 9);
  return strip_zeros(fixed(scaled, decimals)) + suffix;
}

std::string format_seconds(double s, int significant) {
  if (!finite(s)) return "n/a";
  if (s == 0) return "0 s";
  const double a = std::fabs(s);
  if (a < 1e-6 * (1 - 5e-4)) return format_number(s * 1e9, significant) + " ns";
  if (a < 1e-3 * (1 - 5e-4)) return format_number(s * 1e6, significant) + " µs";
  if (a < 1 * (1 - 5e-4)) return format_number(s * 1e3, significant) + " ms";
  return format_number(s, significant) + " s";
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  std::vector<double> ticks;
  if (!(hi > lo) || !finite(lo) || !finite(hi)) return ticks;
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double n = raw / mag;
  const double step = (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * mag;
  const double first = std::floor(lo / step + 1e-9);
  const double last = std::ceil(hi / step - 1e-9);
  for (double i = first; i <= last + 0.5; i += 1) {
    double v = i * step;
    if (std::fabs(v) < step * 1e-9) v = 0;
    ticks.push_back(v);
  }
  return ticks;
}

std::vector<Tick> axis_ticks(const Axis& axis, double lo, double hi, std::string* label_suffix) {
  if (axis.min) lo = *axis.min;
  if (axis.max) hi = *axis.max;
  std::vector<Tick> out;
  std::string suffix;
  if (axis.scale == Scale::kLog) {
    if (!finite(hi) || hi <= 0) hi = 1;
    if (!finite(lo) || lo <= 0 || lo > hi) lo = hi / 10;
    if (lo == hi) {
      lo /= 2;
      hi *= 2;
    }
    // The domain ends at 1/2/5 × 10^k around the data; beyond three decades only the decades
    // are labelled (the ends then get an unlabelled tick, which fixes the domain).
    const double a = round125(lo, false), b = round125(hi, true);
    const bool decades_only = std::log10(b / a) > 3.01;
    const int k0 = static_cast<int>(std::floor(std::log10(a) + 1e-9));
    const int k1 = static_cast<int>(std::ceil(std::log10(b) - 1e-9));
    for (int k = k0; k <= k1; ++k) {
      for (double m : {1.0, 2.0, 5.0}) {
        if (decades_only && m != 1.0) continue;
        const double v = m * std::pow(10.0, k);
        if (v >= a * (1 - 1e-9) && v <= b * (1 + 1e-9)) out.push_back({v, tick_label_log(axis, v)});
      }
    }
    if (out.empty() || out.front().value > a * (1 + 1e-9)) out.insert(out.begin(), Tick{a, ""});
    if (out.back().value < b * (1 - 1e-9)) out.push_back(Tick{b, ""});
    suffix = axis.kind == UnitKind::kCount && !axis.unit.empty() ? axis.unit + ", log scale" : "log scale";
  } else {
    if (!finite(lo) || !finite(hi) || lo > hi) {
      lo = 0;
      hi = 1;
    }
    if (lo == hi) {
      if (lo > 0) {
        lo = 0;
      } else if (lo < 0) {
        hi = 0;
      } else {
        hi = 1;
      }
    }
    const std::vector<double> values = nice_ticks(lo, hi, 6);
    const double step = values.size() > 1 ? values[1] - values[0] : 1;
    double max_abs = 0;
    for (double v : values) max_abs = std::max(max_abs, std::fabs(v));
    switch (axis.kind) {
      case UnitKind::kSeconds: {
        double scale = 1;
        suffix = "s";
        if (max_abs < 1e-3 * (1 + 1e-9)) {
          scale = 1e6;
          suffix = "µs";
        } else if (max_abs < 1 * (1 + 1e-9)) {
          scale = 1e3;
          suffix = "ms";
        }
        const int d = decimals_for_step(step * scale);
        for (double v : values) out.push_back({v, fixed(v * scale, d)});
        break;
      }
      case UnitKind::kFraction: {
        const int d = decimals_for_step(step * 100);
        for (double v : values) out.push_back({v, fixed(v * 100, d) + "%"});
        break;
      }
      case UnitKind::kCount: {
        for (double v : values) {
          const double a = std::fabs(v);
          const double div = a >= 1e9 * (1 - 1e-9) ? 1e9 : a >= 1e6 * (1 - 1e-9) ? 1e6 : a >= 1e4 * (1 - 1e-9) ? 1e3 : 1;
          const char* sfx = div == 1e9 ? "G" : div == 1e6 ? "M" : div == 1e3 ? "k" : "";
          out.push_back({v, strip_zeros(fixed(v / div, decimals_for_step(step / div))) + sfx});
        }
        suffix = axis.unit;
        break;
      }
    }
  }
  if (label_suffix != nullptr) *label_suffix = suffix;
  return out;
}

std::string render_svg(const XYPlot& plot) {
  std::string out;
  out.reserve(4096);
  std::vector<LegendEntry> legend;
  for (const Series& s : plot.series) {
    legend.push_back({s.name, s.color, s.dashed,
                      s.kind == SeriesKind::kScatter ? LegendEntry::Swatch::kDot : LegendEntry::Swatch::kLine});
  }
  open_svg(out, plot.id, plot.title, plot.width, plot.height, plot.series.size());
  const double header_bottom = draw_header(out, plot.title, plot.subtitle, plot.width);

  // Data ranges, including reference rules so that an SLO is always inside the plot.
  double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
  size_t points = 0;
  for (const Series& s : plot.series) {
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!finite(s.x[i]) || !finite(s.y[i])) continue;
      extend(s.x[i], plot.x.scale, xlo, xhi);
      extend(s.y[i], plot.y.scale, ylo, yhi);
      ++points;
    }
  }
  for (const Trend& t : plot.trends) {
    for (size_t i = 0; i < t.x.size() && i < t.y.size(); ++i) {
      extend(t.x[i], plot.x.scale, xlo, xhi);
      extend(t.y[i], plot.y.scale, ylo, yhi);
    }
  }
  // A rule lands inside the frame, never on its edge: a little room beyond it.
  for (const RefLine& r : plot.refs) {
    if (!r.stretch) continue;
    if (r.kind == RefLine::Kind::kVertical) {
      extend(r.value, plot.x.scale, xlo, xhi);
      extend(r.value * (plot.x.scale == Scale::kLog ? 1.2 : 1.04), plot.x.scale, xlo, xhi);
    }
    if (r.kind == RefLine::Kind::kHorizontal) {
      extend(r.value, plot.y.scale, ylo, yhi);
      extend(r.value * (plot.y.scale == Scale::kLog ? 1.2 : 1.04), plot.y.scale, ylo, yhi);
    }
  }
  if (points > 0 && plot.y.scale == Scale::kLinear && plot.y.kind != UnitKind::kFraction && ylo > 0 &&
      ylo < 0.5 * yhi) {
    ylo = 0;  // a linear quantity axis reads better from zero when the data come near it
  }
  std::string xsuffix, ysuffix;
  const std::vector<Tick> xt = axis_ticks(plot.x, xlo, xhi, &xsuffix);
  const std::vector<Tick> yt = axis_ticks(plot.y, ylo, yhi, &ysuffix);

  Frame f;
  f.left = std::max(52.0, 30 + max_label_width(yt) + 8);
  f.right = plot.width - 18;
  const double lh = legend_height(legend, f.left, f.right);
  draw_legend(out, legend, f.left, f.right, header_bottom);
  f.top = header_bottom + lh + 8;
  f.bottom = plot.height - 46;
  const Mapping mx{plot.x.scale, xt.front().value, xt.back().value, f.left, f.right};
  const Mapping my{plot.y.scale, yt.front().value, yt.back().value, f.bottom, f.top};

  draw_y_axis(out, f, my, yt, axis_label_text(plot.y, ysuffix));
  draw_x_axis(out, f, mx, xt, axis_label_text(plot.x, xsuffix), plot.height);

  const std::string clip = escape_xml(plot.id) + "-clip";
  out += "<clipPath id=\"" + clip + "\"><rect x=\"" + px(f.left) + "\" y=\"" + px(f.top - 3) + "\" width=\"" +
         px(f.right - f.left) + "\" height=\"" + px(f.bottom - f.top + 6) + "\"/></clipPath>\n";
  out += "<g clip-path=\"url(#" + clip + ")\">\n";
  for (const Trend& t : plot.trends) {
    std::string pts;
    for (size_t i = 0; i < t.x.size() && i < t.y.size(); ++i) {
      if (!finite(t.x[i]) || !finite(t.y[i])) continue;
      pts += px(mx(t.x[i])) + "," + px(my(t.y[i])) + " ";
    }
    if (pts.empty()) continue;
    pts.pop_back();
    out += "<g class=\"trend\"><polyline points=\"" + pts + "\" fill=\"none\" stroke=\"#fff\" stroke-width=\"5\" " +
           "stroke-linejoin=\"round\"/><polyline points=\"" + pts + "\" fill=\"none\" stroke=\"" +
           palette_color(t.color) + "\" stroke-width=\"2.5\" stroke-linejoin=\"round\"/></g>\n";
  }
  for (const Series& s : plot.series) {
    const std::string color = palette_color(s.color);
    out += "<g class=\"series\" data-name=\"" + escape_xml(s.name) + "\">";
    if (s.kind == SeriesKind::kScatter) {
      out += "<g fill=\"" + color + "\" fill-opacity=\"0.4\">";
      for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
        if (!finite(s.x[i]) || !finite(s.y[i])) continue;
        out += "<circle cx=\"" + px(mx(s.x[i])) + "\" cy=\"" + px(my(s.y[i])) + "\" r=\"2.2\"/>";
      }
      out += "</g>";
    } else {
      std::string pts;
      for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
        if (!finite(s.x[i]) || !finite(s.y[i])) continue;
        pts += px(mx(s.x[i])) + "," + px(my(s.y[i])) + " ";
      }
      if (!pts.empty()) {
        pts.pop_back();
        out += "<polyline points=\"" + pts + "\" fill=\"none\" stroke=\"" + color +
               "\" stroke-width=\"2.2\" stroke-linejoin=\"round\"" +
               (s.dashed ? " stroke-dasharray=\"7 4\"" : "") + "/>";
      }
      if (s.markers) {
        for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
          if (!finite(s.x[i]) || !finite(s.y[i])) continue;
          out += "<circle cx=\"" + px(mx(s.x[i])) + "\" cy=\"" + px(my(s.y[i])) + "\" r=\"3.2\" fill=\"" + color +
                 "\"/>";
        }
      }
    }
    out += "</g>\n";
  }
  out += "</g>\n";

  // Labels of vertical rules are stacked in rows above the bottom edge so that they never overlap;
  // a rule whose label finds no room in kLabelRows rows keeps its label as a tooltip only.
  constexpr int kLabelRows = 3;
  std::vector<std::vector<std::pair<double, double>>> label_rows(kLabelRows);  // taken [x0, x1) per row
  auto place_label = [&](double x0, double x1) -> int {
    for (int row = 0; row < kLabelRows; ++row) {
      bool free = true;
      for (const auto& [a, b] : label_rows[row]) free = free && (x1 + 4 <= a || x0 >= b + 4);
      if (free) {
        label_rows[row].push_back({x0, x1});
        return row;
      }
    }
    return -1;
  };
  for (const RefLine& r : plot.refs) {
    out += "<g class=\"ref\" font-size=\"11\" fill=\"#333\">";
    const std::string style = "\" stroke=\"#333\" stroke-width=\"1.3\" stroke-dasharray=\"2 3\"/>";
    const std::string halo = " stroke=\"#fff\" stroke-width=\"3\" paint-order=\"stroke\"";
    const bool beyond = r.kind == RefLine::Kind::kVertical   ? r.value > mx.hi || r.value < mx.lo
                        : r.kind == RefLine::Kind::kHorizontal ? r.value > my.hi || r.value < my.lo
                                                               : false;
    if (beyond) {
      // Off the scale: name it at the edge it lies beyond.
      if (r.kind == RefLine::Kind::kVertical) {
        const bool right = r.value > mx.hi;
        out += "<text x=\"" + px(right ? f.right - 4 : f.left + 4) + "\" y=\"" + px(f.bottom - 6) + "\" text-anchor=\"" +
               (right ? "end" : "start") + "\"" + halo + ">" + escape_xml(right ? r.label + " →" : "← " + r.label) +
               "</text>";
      } else {
        const bool above = r.value > my.hi;
        out += "<text x=\"" + px(f.right - 4) + "\" y=\"" + px(above ? f.top + 13 : f.bottom - 5) +
               "\" text-anchor=\"end\"" + halo + ">" + escape_xml(r.label + (above ? " ↑" : " ↓")) + "</text>";
      }
    } else if (r.kind == RefLine::Kind::kVertical) {
      const double x = mx(r.value);
      // Near the bottom: where a CDF has already climbed past a latency rule, the lower right is empty.
      const double w = text_width(r.label, 6);
      const bool right_side = x + w + 6 < f.right;
      const int row = right_side ? place_label(x + 4, x + 4 + w) : place_label(x - 4 - w, x - 4);
      if (row < 0) {
        out += "<line x1=\"" + px(x) + "\" y1=\"" + px(f.top) + "\" x2=\"" + px(x) + "\" y2=\"" + px(f.bottom) +
               "\" stroke=\"#333\" stroke-width=\"1.3\" stroke-dasharray=\"2 3\"><title>" + escape_xml(r.label) +
               "</title></line>";
      } else {
        out += "<line x1=\"" + px(x) + "\" y1=\"" + px(f.top) + "\" x2=\"" + px(x) + "\" y2=\"" + px(f.bottom) + style;
        out += "<text x=\"" + px(right_side ? x + 4 : x - 4) + "\" y=\"" + px(f.bottom - 6 - 13 * row) +
               "\" text-anchor=\"" + (right_side ? "start" : "end") + "\"" + halo + ">" + escape_xml(r.label) + "</text>";
      }
    } else if (r.kind == RefLine::Kind::kHorizontal) {
      const double y = my(r.value);
      out += "<line x1=\"" + px(f.left) + "\" y1=\"" + px(y) + "\" x2=\"" + px(f.right) + "\" y2=\"" + px(y) + style;
      const bool above = y - 16 > f.top;
      out += "<text x=\"" + px(f.right - 4) + "\" y=\"" + px(above ? y - 4 : y + 13) + "\" text-anchor=\"end\"" +
             halo + ">" + escape_xml(r.label) + "</text>";
    } else {
      const double a = std::max(mx.lo, my.lo), b = std::min(mx.hi, my.hi);
      if (b > a) {
        out += "<line x1=\"" + px(mx(a)) + "\" y1=\"" + px(my(a)) + "\" x2=\"" + px(mx(b)) + "\" y2=\"" + px(my(b)) +
               style;
        // Beside the rule's upper end, on the side with room (the rule leans right).
        const double lx = mx(b), ly = my(b);
        const bool left = lx + 6 + text_width(r.label, 6) > f.right;
        out += "<text x=\"" + px(left ? lx - 8 : lx + 6) + "\" y=\"" + px(ly + 12) + "\" text-anchor=\"" +
               (left ? "end" : "start") + "\"" + halo + ">" + escape_xml(r.label) + "</text>";
      }
    }
    out += "</g>\n";
  }
  draw_frame(out, f);
  if (points == 0) {
    out += "<text class=\"empty\" x=\"" + px((f.left + f.right) / 2) + "\" y=\"" + px((f.top + f.bottom) / 2) +
           "\" text-anchor=\"middle\" font-size=\"13\" fill=\"" + kMuted + "\">" + escape_xml(plot.empty_message) +
           "</text>\n";
  }
  out += "</svg>\n";
  return out;
}

std::string render_svg(const BarChart& chart) {
  std::string out;
  std::vector<LegendEntry> legend;
  bool any_marker = false;
  for (const BarGroup& g : chart.groups) {
    legend.push_back({g.name, g.color, false, LegendEntry::Swatch::kBox});
    for (double m : g.markers) any_marker = any_marker || finite(m);
  }
  const size_t series = legend.size();
  if (any_marker && !chart.marker_name.empty()) legend.push_back({chart.marker_name, 0, false, LegendEntry::Swatch::kMarker});
  open_svg(out, chart.id, chart.title, chart.width, chart.height, series);
  const double header_bottom = draw_header(out, chart.title, chart.subtitle, chart.width);

  double lo = 0, hi = 0;
  bool any = false;
  for (const BarGroup& g : chart.groups) {
    for (double v : g.values) {
      if (finite(v)) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
        any = true;
      }
    }
    for (double v : g.markers) {
      if (finite(v)) hi = std::max(hi, v);
    }
  }
  if (!chart.y.max) hi *= 1.08;  // room for the value labels above the tallest bar
  std::string ysuffix;
  const std::vector<Tick> yt = axis_ticks(chart.y, lo, hi, &ysuffix);
  Frame f;
  f.left = std::max(52.0, 30 + max_label_width(yt) + 8);
  f.right = chart.width - 18;
  const double lh = legend_height(legend, f.left, f.right);
  draw_legend(out, legend, f.left, f.right, header_bottom);
  f.top = header_bottom + lh + 8;
  bool two_lines = false;
  for (const std::string& c : chart.categories) two_lines = two_lines || c.find('\n') != std::string::npos;
  f.bottom = chart.height - (two_lines ? 62 : 46);
  const Mapping my{Scale::kLinear, yt.front().value, yt.back().value, f.bottom, f.top};
  draw_y_axis(out, f, my, yt, axis_label_text(chart.y, ysuffix));

  const size_t ncat = std::max<size_t>(1, chart.categories.size());
  const size_t ngroups = std::max<size_t>(1, chart.groups.size());
  const double slot = (f.right - f.left) / static_cast<double>(ncat);
  const double inner = slot * 0.8;
  const double bar = std::min(90.0, inner / static_cast<double>(ngroups));  // few bars: not slabs
  const double zero = my(std::clamp(0.0, my.lo, my.hi));
  // Bars of a category sit side by side in group order, centred: a group without a value there
  // (a node one run lacks) leaves no hole.
  std::vector<std::vector<double>> bar_x(chart.groups.size(), std::vector<double>(chart.categories.size(), 0));
  for (size_t ci = 0; ci < chart.categories.size(); ++ci) {
    size_t present = 0;
    for (const BarGroup& g : chart.groups) present += ci < g.values.size() && finite(g.values[ci]) ? 1 : 0;
    double x = f.left + slot * static_cast<double>(ci) + (slot - bar * static_cast<double>(present)) / 2;
    for (size_t gi = 0; gi < chart.groups.size(); ++gi) {
      bar_x[gi][ci] = x;
      if (ci < chart.groups[gi].values.size() && finite(chart.groups[gi].values[ci])) x += bar;
    }
  }
  out += "<g class=\"bars\">\n";
  for (size_t gi = 0; gi < chart.groups.size(); ++gi) {
    const BarGroup& g = chart.groups[gi];
    out += "<g class=\"series\" data-name=\"" + escape_xml(g.name) + "\" fill=\"" + palette_color(g.color) + "\">";
    for (size_t ci = 0; ci < chart.categories.size() && ci < g.values.size(); ++ci) {
      const double v = g.values[ci];
      if (!finite(v)) continue;
      const double x = bar_x[gi][ci];
      const double y = my(v);
      out += "<rect x=\"" + px(x + 1) + "\" y=\"" + px(std::min(y, zero)) + "\" width=\"" + px(std::max(1.0, bar - 2)) +
             "\" height=\"" + px(std::fabs(zero - y)) + "\"/>";
    }
    out += "</g>\n";
  }
  // Markers and value labels after every bar, so that no bar covers them.
  for (size_t gi = 0; gi < chart.groups.size(); ++gi) {
    const BarGroup& g = chart.groups[gi];
    for (size_t ci = 0; ci < chart.categories.size() && ci < g.values.size(); ++ci) {
      const double v = g.values[ci];
      if (!finite(v)) continue;
      const double x = bar_x[gi][ci];
      const double top = my(v);
      double label_y = top - 4;
      if (ci < g.markers.size() && finite(g.markers[ci])) {
        const double ym = my(g.markers[ci]);
        out += "<line class=\"marker\" x1=\"" + px(x + 1) + "\" y1=\"" + px(ym) + "\" x2=\"" + px(x + bar - 1) +
               "\" y2=\"" + px(ym) + "\" stroke=\"#111\" stroke-width=\"2.5\"/>";
        if (ym > top - 14) label_y = ym - 5;  // the tick sits on the bar: label above both
      }
      const std::string text = chart.y.kind == UnitKind::kFraction ? fixed(v * 100, 0) + "%"
                               : chart.y.kind == UnitKind::kSeconds ? format_seconds(v, 2)
                                                                    : format_number(v, 3);
      if (text_width(text, 5.9) + 3 <= bar) {  // only where the label fits over its own bar
        // At the very top there is no room above the bar: write inside it, in white.
        const bool inside = label_y < f.top + 9 && zero - top > 16;
        out += "<text x=\"" + px(x + bar / 2) + "\" y=\"" + px(inside ? top + 12 : label_y) +
               "\" text-anchor=\"middle\" font-size=\"10\" fill=\"" + (inside ? "#fff" : "#333") + "\">" +
               escape_xml(text) + "</text>";
      }
    }
  }
  out += "</g>\n";
  out += "<g class=\"axis x\" font-size=\"11.5\" fill=\"" + std::string(kText) + "\">\n";
  for (size_t ci = 0; ci < chart.categories.size(); ++ci) {
    const double cx = f.left + slot * (static_cast<double>(ci) + 0.5);
    const std::string& c = chart.categories[ci];
    const size_t nl = c.find('\n');
    out += "<text x=\"" + px(cx) + "\" y=\"" + px(f.bottom + 16) + "\" text-anchor=\"middle\">" +
           escape_xml(c.substr(0, nl)) + "</text>";
    if (nl != std::string::npos) {
      out += "<text x=\"" + px(cx) + "\" y=\"" + px(f.bottom + 30) + "\" text-anchor=\"middle\" font-size=\"10\" fill=\"" +
             kMuted + "\">" + escape_xml(c.substr(nl + 1)) + "</text>";
    }
    out += "\n";
  }
  out += "</g>\n";
  out += "<text class=\"axis-label x\" x=\"" + px((f.left + f.right) / 2) + "\" y=\"" + px(chart.height - 10) +
         "\" text-anchor=\"middle\" font-size=\"12.5\" fill=\"" + kText + "\">" + escape_xml(chart.x_label) + "</text>\n";
  out += "<line x1=\"" + px(f.left) + "\" y1=\"" + px(zero) + "\" x2=\"" + px(f.right) + "\" y2=\"" + px(zero) +
         "\" stroke=\"" + kAxis + "\"/>\n";
  draw_frame(out, f);
  if (!any) {
    out += "<text class=\"empty\" x=\"" + px((f.left + f.right) / 2) + "\" y=\"" + px((f.top + f.bottom) / 2) +
           "\" text-anchor=\"middle\" font-size=\"13\" fill=\"" + kMuted + "\">no data</text>\n";
  }
  out += "</svg>\n";
  return out;
}

void add_cdf_points(std::vector<double> values, size_t max_points, Series& s) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size(), k = std::max<size_t>(2, max_points);
  size_t last = SIZE_MAX;
  for (size_t j = 0; n > 0 && j < k; ++j) {
    const size_t idx = static_cast<size_t>(std::llround(static_cast<double>(j) * static_cast<double>(n - 1) /
                                                        static_cast<double>(k - 1)));
    if (idx == last) continue;
    last = idx;
    s.x.push_back(values[idx]);
    s.y.push_back(static_cast<double>(idx + 1) / static_cast<double>(n));
  }
}

}  // namespace flowkv::report
