// The grouped bar chart: one panel per group (metric), one bar per series (method) in each.
#include <algorithm>
#include <cmath>

#include "report/markup.h"
#include "report/number_text.h"
#include "report/svg_chart.h"
#include "report/svg_common.h"

namespace microsr::report {

namespace {

using svg::kFontSize;

std::string n(double v) { return svg_number(v); }

// The layout, in viewBox units. Panels sit side by side, at most kColumns per row; inside each,
// from the top: the heading, the plot, and the series' names under their bars.
constexpr double kWidth = 760, kMargin = 8;
constexpr int kColumns = 3;
constexpr double kHeading = 28;      // panel heading band above the plot
constexpr double kPlotHeight = 190;  // the plot itself
constexpr double kAxisSpace = 56;    // left of the plot: tick labels
constexpr double kRightSpace = 12;
constexpr double kLabelFont = 11;
constexpr double kLabelAngle = 35;  // degrees, when the names do not fit side by side
constexpr std::size_t kLongestLabel = 22;

std::string shortened(const std::string& label) {
  if (code_points(label) <= kLongestLabel) return label;
  std::string out;
  std::size_t points = 0;
  for (const char c : label) {
    const bool starts_point = (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    if (starts_point && ++points > kLongestLabel - 1) break;
    out += c;
  }
  return out + "\xE2\x80\xA6";  // …
}

// The y axis of one panel, and where its bars start. Values far from zero on one side (the
// smallest magnitude above half the largest) get an axis around them, bars rising from its low
// end (or hanging from its high end when negative); otherwise the axis includes 0 and bars start
// there. 12 % headroom leaves space for the value printed above the highest error bar.
struct PanelScale {
  Axis axis;
  double baseline = 0;
  bool zero_excluded = false;
};

PanelScale panel_scale(const BarGroup& group) {
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& bar : group.bars) {
    if (!bar) continue;
    for (const double v : {bar->mean, bar->low, bar->high})
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  PanelScale s;
  if (!std::isfinite(lo)) {
    s.axis = nice_axis(0, 1);
    return s;
  }
  const bool positive_far = lo > 0 && lo > 0.5 * hi, negative_far = hi < 0 && hi < 0.5 * lo;
  s.zero_excluded = positive_far || negative_far;
  if (!s.zero_excluded) lo = std::min(lo, 0.0), hi = std::max(hi, 0.0);
  const double span = hi - lo > 0 ? hi - lo : std::max(std::fabs(hi) * 0.02, 1e-9);
  if (s.zero_excluded) lo -= 0.1 * span;  // so the shortest bar still shows
  hi += 0.12 * span;
  s.axis = nice_axis(lo, hi, 5);
  s.baseline = !s.zero_excluded ? 0.0 : positive_far ? s.axis.low : s.axis.high;
  return s;
}

// Two slanted strokes across the axis line near its low end: "this axis does not start at 0".
std::string axis_break(double x, double y) {
  return "<rect x=\"" + n(x - 6) + "\" y=\"" + n(y - 14) + "\" width=\"12\" height=\"7\" fill=\"#ffffff\"/>\n" +
         svg::line(x - 6, y - 7, x + 6, y - 11, svg::kInk) + svg::line(x - 6, y - 10, x + 6, y - 14, svg::kInk);
}

}  // namespace

std::string render_bar_chart(const BarChart& chart) {
  const std::size_t series = chart.series.size();
  auto color_of = [&](std::size_t i) {
    return i < chart.colors.size() && !chart.colors[i].empty() ? chart.colors[i] : std::string(series_color(i));
  };
  std::vector<svg::LegendItem> items;
  for (std::size_t i = 0; i < series; ++i) items.push_back({chart.series[i], color_of(i)});

  const std::size_t groups = std::max<std::size_t>(chart.groups.size(), 1);
  const std::size_t columns = std::min<std::size_t>(groups, kColumns);
  const std::size_t rows = (groups + columns - 1) / columns;
  const double panel_width = (kWidth - 2 * kMargin) / double(columns);
  const double plot_width = panel_width - kAxisSpace - kRightSpace;
  const double slot = plot_width / double(std::max<std::size_t>(series, 1));

  // The series' names go under their bars, level when every one fits its slot, else slanted
  // (then the band below the plot is as tall as the longest slanted name reaches).
  double longest = 0;
  for (const std::string& s : chart.series) longest = std::max(longest, svg::text_width(shortened(s), kLabelFont));
  const bool slanted = longest > slot - 6;
  const double label_band = slanted ? 14 + longest * std::sin(kLabelAngle * M_PI / 180) + 6 : 22;
  const double panel_height = kHeading + kPlotHeight + label_band + 6;

  const double legend_height = svg::legend_height(items, kWidth - 2 * kMargin);
  const double panels_top = kMargin + legend_height + 6;
  const double height = panels_top + double(rows) * panel_height + kMargin;

  std::string description = chart.description;
  std::string body;
  for (std::size_t g = 0; g < chart.groups.size(); ++g) {
    const BarGroup& group = chart.groups[g];
    const double panel_x = kMargin + double(g % columns) * panel_width;
    const double panel_y = panels_top + double(g / columns) * panel_height;
    const double left = panel_x + kAxisSpace, right = left + plot_width;
    const double top = panel_y + kHeading, bottom = top + kPlotHeight;
    const PanelScale scale = panel_scale(group);
    const LinearMap y{scale.axis.low, scale.axis.high, bottom, top};

    body += "<g class=\"panel\" data-group=\"" + escape_markup(group.label) + "\">\n";
    body += svg::text((left + right) / 2, panel_y + 16, group.label, "middle", 13, "font-weight=\"600\"");
    body += svg::y_axis(scale.axis, y, left, right);
    if (scale.zero_excluded) {
      body += axis_break(left, bottom);
      description +=
          " The " + group.label + " axis starts at " + fixed(scale.axis.low, scale.axis.decimals) + ", not at zero.";
    }
    for (std::size_t i = 0; i < series; ++i) {
      const double centre = left + (double(i) + 0.5) * slot;
      const double bar_width = std::min(slot * 0.64, 56.0);
      const std::optional<BarValue>& bar = i < group.bars.size() ? group.bars[i] : std::nullopt;
      if (!bar || !std::isfinite(bar->mean)) {
        body += svg::text(centre, y(scale.baseline) - 6, "n/a", "middle", svg::kSmallFont,
                          std::string("fill=\"") + svg::kMuted + "\"");
      } else {
        const double y_mean = y(bar->mean), y_base = y(scale.baseline);
        const std::string tooltip = chart.series[i] + " \xC2\xB7 " + group.label + ": mean " +
                                    fixed(bar->mean, group.decimals) + ", 95% interval " +
                                    interval_text(bar->low, bar->high, group.decimals);
        body += "<rect class=\"bar\" data-series=\"" + escape_markup(chart.series[i]) + "\" data-group=\"" +
                escape_markup(group.label) + "\" x=\"" + n(centre - bar_width / 2) + "\" y=\"" +
                n(std::min(y_mean, y_base)) + "\" width=\"" + n(bar_width) + "\" height=\"" +
                n(std::fabs(y_mean - y_base)) + "\" rx=\"1.5\" fill=\"" + escape_markup(color_of(i)) + "\"><title>" +
                escape_markup(tooltip) + "</title></rect>\n";
        double label_y = std::min(y_mean, y_base);
        if (std::isfinite(bar->low) && std::isfinite(bar->high)) {
          const double y_low = y(bar->low), y_high = y(bar->high), cap = bar_width * 0.18;
          body += "<g class=\"error-bar\">\n" + svg::line(centre, y_low, centre, y_high, svg::kInk, 1.4) +
                  svg::line(centre - cap, y_low, centre + cap, y_low, svg::kInk, 1.4) +
                  svg::line(centre - cap, y_high, centre + cap, y_high, svg::kInk, 1.4) + "</g>\n";
          label_y = std::min(label_y, y_high);
        }
        body += svg::text(centre, std::max(label_y - 5, top - 2), fixed(bar->mean, group.decimals), "middle",
                          svg::kSmallFont, "class=\"value\"");
      }
      const std::string name = shortened(chart.series[i]);
      if (slanted) {
        const double at_y = bottom + 14;
        body += svg::text(centre, at_y, name, "end", kLabelFont,
                          "transform=\"rotate(-" + n(kLabelAngle) + " " + n(centre) + " " + n(at_y) + ")\"");
      } else {
        body += svg::text(centre, bottom + 17, name, "middle", kLabelFont);
      }
    }
    body += "</g>\n";
  }

  double used = 0;
  std::string out = svg::open(kWidth, height, chart.id, chart.title, description);
  out += svg::legend(items, kMargin, kMargin, kWidth - 2 * kMargin, used);
  return out + body + svg::close();
}

}  // namespace microsr::report
