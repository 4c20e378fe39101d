#include "report/svg_common.h"

#include "report/markup.h"
#include "report/number_text.h"
#include "report/svg_chart.h"

namespace microsr::report {

const char* series_color(std::size_t index) {
  // Okabe & Ito's palette without its yellow, which is too light on white, and black last.
  static const char* const kPalette[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7",
                                         "#56B4E9", "#D55E00", "#7f7f7f", "#000000"};
  return kPalette[index % (sizeof kPalette / sizeof kPalette[0])];
}

}  // namespace microsr::report

namespace microsr::report::svg {

namespace {

constexpr double kLegendRow = 20;   // height of one legend row
constexpr double kLegendMark = 14;  // width of a legend swatch
constexpr double kLegendGap = 18;   // space after an entry's label
constexpr double kTickLength = 4;

std::string n(double v) { return svg_number(v); }

double item_width(const LegendItem& item) { return kLegendMark + 6 + text_width(item.label, kFontSize) + kLegendGap; }

}  // namespace

double text_width(const std::string& content, double font_size) {
  return 0.58 * font_size * double(code_points(content));
}

std::string open(double width, double height, const std::string& id, const std::string& title,
                 const std::string& description) {
  const std::string title_id = escape_markup(id + "-title"), desc_id = escape_markup(id + "-desc");
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 " + n(width) + " " + n(height) +
         "\" role=\"img\" aria-labelledby=\"" + title_id + " " + desc_id +
         "\" font-family=\"Inter, system-ui, Helvetica, Arial, sans-serif\" font-size=\"" + n(kFontSize) +
         "\" fill=\"" + kInk + "\">\n<title id=\"" + title_id + "\">" + escape_markup(title) + "</title>\n<desc id=\"" +
         desc_id + "\">" + escape_markup(description) + "</desc>\n";
}

std::string close() { return "</svg>\n"; }

std::string text(double x, double y, const std::string& content, const char* anchor, double font_size,
                 const std::string& extra) {
  std::string out = "<text x=\"" + n(x) + "\" y=\"" + n(y) + "\"";
  if (std::string(anchor) != "start") out += std::string(" text-anchor=\"") + anchor + "\"";
  if (font_size != kFontSize) out += " font-size=\"" + n(font_size) + "\"";
  if (!extra.empty()) out += " " + extra;
  return out + ">" + escape_markup(content) + "</text>\n";
}

std::string line(double x1, double y1, double x2, double y2, const char* stroke, double width,
                 const std::string& extra) {
  std::string out = "<line x1=\"" + n(x1) + "\" y1=\"" + n(y1) + "\" x2=\"" + n(x2) + "\" y2=\"" + n(y2) +
                    "\" stroke=\"" + escape_markup(stroke) + "\"";
  if (width != 1) out += " stroke-width=\"" + n(width) + "\"";
  if (!extra.empty()) out += " " + extra;
  return out + "/>\n";
}

std::string y_axis(const Axis& axis, const LinearMap& y, double left, double right) {
  std::string out = "<g class=\"y-axis\">\n";
  for (const double tick : axis.ticks) {
    const double at = y(tick);
    out += line(left, at, right, at, kGrid);
    out += line(left - kTickLength, at, left, at, kInk);
    // Labels sit right-aligned left of the tick; +4 centres 12-unit digits on the line.
    out += text(left - kTickLength - 3, at + 4, fixed(tick, axis.decimals), "end");
  }
  out += line(left, y(axis.low), left, y(axis.high), kInk);
  return out + "</g>\n";
}

std::string x_axis(const Axis& axis, const LinearMap& x, double top, double bottom) {
  std::string out = "<g class=\"x-axis\">\n";
  for (const double tick : axis.ticks) {
    const double at = x(tick);
    out += line(at, top, at, bottom, kGrid);
    out += line(at, bottom, at, bottom + kTickLength, kInk);
    out += text(at, bottom + kTickLength + 12, fixed(tick, axis.decimals), "middle");
  }
  out += line(x(axis.low), bottom, x(axis.high), bottom, kInk);
  return out + "</g>\n";
}

std::string x_title(const std::string& title, double centre_x, double y) {
  return text(centre_x, y, title, "middle", kFontSize, std::string("fill=\"") + kMuted + "\"");
}

std::string y_title(const std::string& title, double x, double centre_y) {
  // Rotated about its own anchor point, so it reads bottom to top along the axis.
  return text(x, centre_y, title, "middle", kFontSize,
              std::string("fill=\"") + kMuted + "\" transform=\"rotate(-90 " + n(x) + " " + n(centre_y) + ")\"");
}

double legend_height(const std::vector<LegendItem>& items, double max_width) {
  if (items.empty()) return 0;
  int rows = 1;
  double used = 0;
  for (const LegendItem& item : items) {
    const double w = item_width(item);
    if (used > 0 && used + w > max_width) ++rows, used = 0;
    used += w;
  }
  return rows * kLegendRow;
}

std::string legend(const std::vector<LegendItem>& items, double x, double y, double max_width, double& height) {
  std::string out = "<g class=\"legend\">\n";
  double cx = x, row_top = y;
  for (const LegendItem& item : items) {
    const double w = item_width(item);
    if (cx > x && cx - x + w > max_width) cx = x, row_top += kLegendRow;
    const double middle = row_top + kLegendRow / 2;
    const std::string color = escape_markup(item.color);
    switch (item.mark) {
      case LegendItem::Mark::box:
        out += "<rect x=\"" + n(cx) + "\" y=\"" + n(middle - 6) + "\" width=\"12\" height=\"12\" rx=\"2\" fill=\"" +
               color + "\"/>\n";
        break;
      case LegendItem::Mark::line:
      case LegendItem::Mark::dashed_line:
        out += line(cx, middle, cx + kLegendMark, middle, color.c_str(), 2,
                    item.mark == LegendItem::Mark::dashed_line ? "stroke-dasharray=\"4 3\"" : "");
        break;
      case LegendItem::Mark::dot:
        out += "<circle cx=\"" + n(cx + kLegendMark / 2) + "\" cy=\"" + n(middle) + "\" r=\"4\" fill=\"" + color +
               "\" fill-opacity=\"0.75\"/>\n";
        break;
    }
    out += text(cx + kLegendMark + 6, middle + 4, item.label);
    cx += w;
  }
  height = legend_height(items, max_width);
  return out + "</g>\n";
}

}  // namespace microsr::report::svg
