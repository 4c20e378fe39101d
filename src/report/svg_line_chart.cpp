// The line chart: series of (x, y) points joined by lines, with gaps where y is absent.
#include <algorithm>
#include <cmath>

#include "report/markup.h"
#include "report/number_text.h"
#include "report/svg_chart.h"
#include "report/svg_common.h"

namespace microsr::report {

namespace {

std::string n(double v) { return svg_number(v); }

constexpr double kWidth = 460, kMargin = 6;
constexpr double kLeft = 62, kRight = 16, kBelow = 46, kPlotHeight = 190;

}  // namespace

std::string render_line_chart(const LineChart& chart) {
  auto color_of = [&](std::size_t i) {
    return chart.series[i].color.empty() ? std::string(series_color(i)) : chart.series[i].color;
  };
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  std::vector<svg::LegendItem> items;
  for (std::size_t s = 0; s < chart.series.size(); ++s) {
    const LineSeries& series = chart.series[s];
    items.push_back(
        {series.name, color_of(s), series.dashed ? svg::LegendItem::Mark::dashed_line : svg::LegendItem::Mark::line});
    // The x axis spans every x given, with a value or not (the loss chart starts at epoch 0 like
    // the validation chart, although epoch 0 has no loss); the y axis spans the values.
    for (std::size_t i = 0; i < std::min(series.x.size(), series.y.size()); ++i) {
      if (!std::isfinite(series.x[i])) continue;
      x_lo = std::min(x_lo, series.x[i]), x_hi = std::max(x_hi, series.x[i]);
      if (!std::isfinite(series.y[i])) continue;
      y_lo = std::min(y_lo, series.y[i]), y_hi = std::max(y_hi, series.y[i]);
    }
  }
  const bool empty = !std::isfinite(y_lo);
  const Axis x_axis =
      !std::isfinite(x_lo) ? nice_axis(0, 1, 6, chart.integer_x) : nice_axis(x_lo, x_hi, 6, chart.integer_x);
  const Axis y_axis = empty ? nice_axis(0, 1) : nice_axis(y_lo, y_hi, 5);

  const double legend_height = svg::legend_height(items, kWidth - 2 * kMargin);
  const double top = kMargin + legend_height + 8, bottom = top + kPlotHeight;
  const double left = kLeft, right = kWidth - kRight;
  const double height = bottom + kBelow;
  const LinearMap x{x_axis.low, x_axis.high, left, right};
  const LinearMap y{y_axis.low, y_axis.high, bottom, top};

  double used = 0;
  std::string out = svg::open(kWidth, height, chart.id, chart.title, chart.description);
  out += svg::legend(items, kMargin, kMargin, kWidth - 2 * kMargin, used);
  out += svg::x_axis(x_axis, x, top, bottom);
  out += svg::y_axis(y_axis, y, left, right);
  if (empty)
    out += svg::text((left + right) / 2, (top + bottom) / 2, "no values", "middle", svg::kFontSize,
                     std::string("fill=\"") + svg::kMuted + "\"");

  for (std::size_t s = 0; s < chart.series.size(); ++s) {
    const LineSeries& series = chart.series[s];
    const std::string color = escape_markup(color_of(s));
    out += "<g class=\"line\" data-series=\"" + escape_markup(series.name) + "\">\n";
    // A polyline per run of consecutive points with a value: an absent value is a gap, not a
    // line drawn across it.
    std::string run;
    int run_points = 0;
    auto end_run = [&] {
      if (run_points >= 2)
        out += "<polyline class=\"series\" fill=\"none\" stroke=\"" + color + "\" stroke-width=\"2\"" +
               (series.dashed ? " stroke-dasharray=\"6 4\"" : "") + " points=\"" + run + "\"/>\n";
      run.clear();
      run_points = 0;
    };
    std::string dots;
    for (std::size_t i = 0; i < std::min(series.x.size(), series.y.size()); ++i) {
      if (!std::isfinite(series.x[i]) || !std::isfinite(series.y[i])) {
        end_run();
        continue;
      }
      const std::string at = n(x(series.x[i])) + "," + n(y(series.y[i]));
      run += (run.empty() ? "" : " ") + at;
      ++run_points;
      dots += "<circle cx=\"" + n(x(series.x[i])) + "\" cy=\"" + n(y(series.y[i])) + "\" r=\"3\" fill=\"" + color +
              "\"><title>" +
              escape_markup(series.name + ", " + chart.x_label + " " + svg_number(series.x[i]) + ": " +
                            fixed(series.y[i], chart.value_decimals)) +
              "</title></circle>\n";
    }
    end_run();
    out += dots + "</g>\n";
  }
  out += svg::x_title(chart.x_label, (left + right) / 2, bottom + 36);
  out += svg::y_title(chart.y_label, 16, (top + bottom) / 2);
  return out + svg::close();
}

}  // namespace microsr::report
