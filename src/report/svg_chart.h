// Charts as SVG, written by our own code (no plotting library): a grouped bar chart with error
// bars, a scatter plot with its y = x diagonal, and a line chart.
//
// Each render_* function returns one <svg> element, to be inlined in an HTML page or saved as a
// file. Its size is in viewBox units only: the page decides how wide it is drawn. It has a
// <title> and a <desc> (what a screen reader says; `id` prefixes their ids, so give every chart
// of a page its own), and every text it draws is escaped. The same input always gives the same
// bytes.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace microsr::report {

// The colour of the i-th series: a palette that colour-blind readers can tell apart (Okabe & Ito),
// repeating after eight.
const char* series_color(std::size_t index);

// ---- grouped bar chart with error bars ----------------------------------------------------------
// One panel per group (a metric), each with its own y axis, since metrics have different scales;
// in each panel one bar per series (a method): the mean, with an error bar from low to high.
struct BarValue {
  double mean = 0, low = 0, high = 0;
};
struct BarGroup {
  std::string label;                          // the panel's heading: "PSNR (dB)"
  int decimals = 2;                           // of the value printed above each bar
  std::vector<std::optional<BarValue>> bars;  // one per series; nullopt: no value ("n/a")
};
struct BarChart {
  std::string id, title, description;
  std::vector<std::string> series;  // the legend, in bar order
  std::vector<std::string> colors;  // one per series; empty: series_color(i)
  std::vector<BarGroup> groups;
};
// Each bar is a <rect class="bar" data-series="…" data-group="…">. A panel whose values all lie
// far from zero gets an axis that starts near them instead of at 0 (else bars of 30.2 and 30.9 dB
// would look equal); its axis then shows a break mark, and the description says so.
std::string render_bar_chart(const BarChart& chart);

// ---- scatter plot ----------------------------------------------------------------------------------
struct ScatterPoint {
  double x = 0, y = 0;
  std::string label;  // shown as the point's tooltip (its <title>): the image's name
};
struct ScatterPlot {
  std::string id, title, description;
  std::string x_label, y_label;
  std::string color = "#0072B2";
  std::vector<ScatterPoint> points;  // points with a non-finite coordinate are left out
  // Written inside the plot's upper-left (above the diagonal) and lower-right corners, e.g.
  // "fine-tuned better" / "pretrained better"; empty: nothing.
  std::string above_label, below_label;
};
// Both axes share one domain, so the diagonal y = x runs corner to corner at 45°.
// Each point is a <circle class="point">.
std::string render_scatter_plot(const ScatterPlot& plot);

// ---- line chart ------------------------------------------------------------------------------------
struct LineSeries {
  std::string name;
  std::string color;         // empty: series_color(index)
  std::vector<double> x, y;  // same length; a non-finite y leaves a gap in the line
  bool dashed = false;
};
struct LineChart {
  std::string id, title, description;
  std::string x_label, y_label;
  bool integer_x = true;   // ticks at whole numbers (epochs)
  int value_decimals = 3;  // of the values in the points' tooltips
  std::vector<LineSeries> series;
};
// Each series is one or more <polyline class="series"> plus a <circle> per point.
std::string render_line_chart(const LineChart& chart);

}  // namespace microsr::report
