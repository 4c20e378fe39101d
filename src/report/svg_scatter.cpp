// The scatter plot: one point per image, method A on x against method B on y, with y = x.
#include <algorithm>
#include <cmath>

#include "report/markup.h"
#include "report/number_text.h"
#include "report/svg_chart.h"
#include "report/svg_common.h"

namespace microsr::report {

namespace {

std::string n(double v) { return svg_number(v); }

constexpr double kWidth = 380, kMargin = 6;
constexpr double kLeft = 58;  // tick labels and the y title
constexpr double kRight = 14;
constexpr double kBelow = 46;  // tick labels and the x title
constexpr double kRadius = 3.5;

}  // namespace

std::string render_scatter_plot(const ScatterPlot& plot) {
  std::vector<const ScatterPoint*> points;
  double lo = INFINITY, hi = -INFINITY;
  for (const ScatterPoint& p : plot.points) {
    if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
    points.push_back(&p);
    lo = std::min({lo, p.x, p.y}), hi = std::max({hi, p.x, p.y});
  }
  // One domain for both axes, so that the diagonal is the square's diagonal and a point's
  // distance from it reads the same along either axis.
  // 3 % of the range on either side keeps the extreme points off the frame.
  const double pad = 0.03 * (hi - lo);
  const Axis axis = points.empty() ? nice_axis(0, 1) : nice_axis(lo - pad, hi + pad, 5);

  const std::vector<svg::LegendItem> items = {
      {"one image (n = " + std::to_string(points.size()) + ")", plot.color, svg::LegendItem::Mark::dot},
      {"y = x (equal)", svg::kMuted, svg::LegendItem::Mark::dashed_line}};
  const double legend_height = svg::legend_height(items, kWidth - 2 * kMargin);
  const double top = kMargin + legend_height + 8;
  const double side = kWidth - kLeft - kRight;  // the plot is a square
  const double height = top + side + kBelow;
  const double left = kLeft, right = left + side, bottom = top + side;
  const LinearMap x{axis.low, axis.high, left, right};
  const LinearMap y{axis.low, axis.high, bottom, top};

  double used = 0;
  std::string out = svg::open(kWidth, height, plot.id, plot.title, plot.description);
  out += svg::legend(items, kMargin, kMargin, kWidth - 2 * kMargin, used);
  out += svg::x_axis(axis, x, top, bottom);
  out += svg::y_axis(axis, y, left, right);
  out += svg::line(x(axis.low), y(axis.low), x(axis.high), y(axis.high), svg::kMuted, 1.2,
                   "class=\"diagonal\" stroke-dasharray=\"5 4\"");
  const std::string note = std::string("font-style=\"italic\" fill=\"") + svg::kMuted + "\"";
  if (!plot.above_label.empty()) out += svg::text(left + 6, top + 14, plot.above_label, "start", svg::kSmallFont, note);
  if (!plot.below_label.empty())
    out += svg::text(right - 6, bottom - 8, plot.below_label, "end", svg::kSmallFont, note);
  if (points.empty())
    out += svg::text((left + right) / 2, (top + bottom) / 2, "no paired values", "middle", svg::kFontSize, note);

  out += "<g class=\"points\" fill=\"" + escape_markup(plot.color) +
         "\" fill-opacity=\"0.72\" stroke=\"#ffffff\" stroke-width=\"0.6\">\n";
  for (const ScatterPoint* p : points) {
    out += "<circle class=\"point\" cx=\"" + n(x(p->x)) + "\" cy=\"" + n(y(p->y)) + "\" r=\"" + n(kRadius) + "\">";
    if (!p->label.empty()) out += "<title>" + escape_markup(p->label) + "</title>";
    out += "</circle>\n";
  }
  out += "</g>\n";
  out += svg::x_title(plot.x_label, (left + right) / 2, bottom + 36);
  out += svg::y_title(plot.y_label, 16, (top + bottom) / 2);
  return out + svg::close();
}

}  // namespace microsr::report
