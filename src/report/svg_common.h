// What the SVG charts share: the document frame, text, axes and legends (svg_*.cpp only).
#pragma once
#include <string>
#include <vector>

#include "report/axis.h"

namespace microsr::report::svg {

inline constexpr double kFontSize = 12;           // tick labels, legends
inline constexpr double kSmallFont = 10.5;        // values on bars, corner notes
inline constexpr const char* kInk = "#1f2937";    // text and axis lines
inline constexpr const char* kMuted = "#6b7280";  // secondary text
inline constexpr const char* kGrid = "#e5e7eb";   // grid lines

// About how wide `text` is drawn at `font_size` in a sans-serif face (0.58 em per character, a
// little more than the average Latin glyph): for fitting legends and labels, not for precision.
double text_width(const std::string& text, double font_size);

// <svg …> with its <title> and <desc>; close() ends it.
std::string open(double width, double height, const std::string& id, const std::string& title,
                 const std::string& description);
std::string close();

// A <text> element. `anchor`: start, middle or end; `extra`: more attributes (already escaped).
std::string text(double x, double y, const std::string& content, const char* anchor = "start",
                 double font_size = kFontSize, const std::string& extra = "");

std::string line(double x1, double y1, double x2, double y2, const char* stroke, double width = 1,
                 const std::string& extra = "");

// Horizontal grid lines and labels for `axis` along a vertical axis at x = left (the plot spans
// left…right), and the axis line itself.
std::string y_axis(const Axis& axis, const LinearMap& y, double left, double right);
// Vertical grid lines and labels below y = bottom (the plot spans top…bottom), and the axis line.
std::string x_axis(const Axis& axis, const LinearMap& x, double top, double bottom);
// An axis title: centred under the x axis, or rotated along the y axis.
std::string x_title(const std::string& title, double centre_x, double y);
std::string y_title(const std::string& title, double x, double centre_y);

struct LegendItem {
  std::string label, color;
  enum class Mark { box, line, dashed_line, dot } mark = Mark::box;
};
// Legend entries in rows from (x, y) (the top of the first row), wrapped at `max_width`.
// Returns the markup; `height` receives the height used.
std::string legend(const std::vector<LegendItem>& items, double x, double y, double max_width, double& height);
// The height legend() would use, without drawing it.
double legend_height(const std::vector<LegendItem>& items, double max_width);

}  // namespace microsr::report::svg
