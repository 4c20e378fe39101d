// A study on the page: its card in the header, and its section (tables, charts, grids).
#include <cmath>
#include <map>
#include <utility>

#include "report/html_parts.h"
#include "report/markup.h"
#include "report/number_text.h"
#include "report/svg_chart.h"

namespace microsr::report::html {

namespace {

std::string esc(const std::string& s) { return escape_markup(s); }

const SummaryEntry* find_summary(const StudyFolder& s, const std::string& method, const std::string& metric) {
  for (const SummaryEntry& e : s.summary)
    if (e.method == method && e.metric == metric) return &e;
  return nullptr;
}

std::size_t image_count(const StudyFolder& s) {
  std::size_t n = 0;
  for (const SummaryEntry& e : s.summary) n = std::max(n, e.count + e.left_out);
  return n;
}

std::string method_cell(const std::string& method, const MethodColors& colors) {
  return "<span class=\"method\">" + swatch(colors.of(method)) + esc(method) + "</span>";
}

// A winner whose side of zero at least 95% of the resamples agree on is called "better"; below
// that it is only "ahead", and shown muted: a coin toss must not look like a result.
constexpr double kSure = 0.95;

std::string unit_suffix(const std::string& metric) {
  const std::string unit = metric_info(metric).unit;
  return unit.empty() ? "" : " " + unit;
}

// "fine-tuned − pretrained · PSNR: +6.81 dB [6.10, 7.40] → fine-tuned better (certainty 100.0%)"
std::string verdict(const ComparisonEntry& c, int decimals, const MethodColors& colors) {
  std::string out = "<li data-first=\"" + esc(c.first) + "\" data-second=\"" + esc(c.second) + "\" data-metric=\"" +
                    esc(c.metric) + "\">" + esc(c.second) + " " + kMinus + " " + esc(c.first) + " \xC2\xB7 " +
                    esc(metric_info(c.metric).name) + ": <strong>" + signed_fixed(c.mean_difference, decimals) +
                    esc(unit_suffix(c.metric)) + "</strong> <span class=\"ci\">" +
                    interval_text(c.low, c.high, decimals) + "</span> \xE2\x86\x92 ";
  if (c.winner == "tie")
    out += "a tie";
  else if (c.certainty >= kSure)
    out += method_cell(c.winner, colors) + " better";
  else
    out += method_cell(c.winner, colors) + " ahead, not certain";
  return out + " <span class=\"certainty\">(certainty " + percent(c.certainty) + ")</span></li>\n";
}

std::string notes_box(const StudyFolder& s) {
  std::string items;
  for (const std::string& note : s.notes) items += "<li>" + esc(note) + "</li>\n";
  for (const SummaryEntry& e : s.summary)
    if (e.left_out)
      items += "<li>" + esc(e.method) + ", " + esc(metric_info(e.metric).name) + ": " + std::to_string(e.left_out) +
               " value" + (e.left_out == 1 ? " was" : "s were") +
               " not finite (identical images give an infinite PSNR) and " + (e.left_out == 1 ? "is" : "are") +
               " left out of the statistics.</li>\n";
  for (const std::string& w : s.warnings) items += "<li class=\"warning\">" + esc(w) + "</li>\n";
  if (items.empty()) return "";
  return "<div class=\"callout\">\n<p class=\"callout-title\">Notes</p>\n<ul>\n" + items + "</ul>\n</div>\n";
}

std::string summary_table(const StudyOnPage& study, const MethodColors& colors) {
  const StudyFolder& s = study.data;
  const std::map<std::string, int> decimals = metric_decimals(s);
  std::string out = "<div class=\"table-wrap\"><table class=\"summary\" data-study=\"" + esc(study.key) +
                    "\">\n<thead><tr><th>method</th><th>metric</th><th class=\"num\">mean</th>"
                    "<th class=\"num\">median</th><th class=\"num\">95% interval of the mean</th>"
                    "<th class=\"num\">n</th></tr></thead>\n<tbody>\n";
  // Metric by metric, so the methods' values of one metric stand together.
  for (const std::string& metric : s.metrics)
    for (const std::string& method : s.methods) {
      const SummaryEntry* e = find_summary(s, method, metric);
      if (!e) continue;
      const int d = decimals.at(metric);
      out += "<tr data-method=\"" + esc(method) + "\" data-metric=\"" + esc(metric) + "\"><td>" +
             method_cell(method, colors) + "</td><td>" + esc(metric_heading(metric)) + "</td><td class=\"num\">" +
             fixed(e->mean, d) + "</td><td class=\"num\">" + fixed(e->median, d) + "</td><td class=\"num\">" +
             interval_text(e->low, e->high, d) + "</td><td class=\"num\">" + std::to_string(e->count) + "</td></tr>\n";
    }
  return out + "</tbody>\n</table></div>\n";
}

std::string comparison_table(const StudyOnPage& study, const MethodColors& colors) {
  const StudyFolder& s = study.data;
  if (s.comparisons.empty()) return "<p class=\"muted\">This study compares no pair of methods.</p>\n";
  const std::map<std::string, int> decimals = metric_decimals(s);
  std::string out = "<div class=\"table-wrap\"><table class=\"comparisons\" data-study=\"" + esc(study.key) +
                    "\">\n<thead><tr><th>first</th><th>second</th><th>metric</th>"
                    "<th class=\"num\">mean difference<br><span class=\"th-note\">second " +
                    kMinus +
                    " first</span></th><th class=\"num\">95% interval</th><th>winner</th>"
                    "<th class=\"num\">certainty</th><th class=\"num\">n</th></tr></thead>\n<tbody>\n";
  for (const ComparisonEntry& c : s.comparisons) {
    const int d = decimals.at(c.metric);
    const std::string winner = c.winner == "tie"
                                   ? "<span class=\"tie\">tie</span>"
                                   : std::string("<span class=\"winner") + (c.certainty >= kSure ? " sure" : "") +
                                         "\">" + method_cell(c.winner, colors) + "</span>";
    out += "<tr data-first=\"" + esc(c.first) + "\" data-second=\"" + esc(c.second) + "\" data-metric=\"" +
           esc(c.metric) + "\"><td>" + method_cell(c.first, colors) + "</td><td>" + method_cell(c.second, colors) +
           "</td><td>" + esc(metric_heading(c.metric)) + "</td><td class=\"num\">" +
           signed_fixed(c.mean_difference, d) + "</td><td class=\"num\">" + interval_text(c.low, c.high, d) +
           "</td><td>" + winner + "</td><td class=\"num\">" + percent(c.certainty) + "</td><td class=\"num\">" +
           std::to_string(c.count) + "</td></tr>\n";
  }
  return out + "</tbody>\n</table></div>\n";
}

std::string bar_chart(const StudyOnPage& study, const MethodColors& colors, ChartIds& ids) {
  const StudyFolder& s = study.data;
  const std::map<std::string, int> decimals = metric_decimals(s);
  BarChart chart;
  chart.id = ids.next();
  chart.title = s.title + ": mean per method with its 95% interval";
  chart.description = "Bar chart, one panel per metric; each bar is a method's mean over " +
                      std::to_string(image_count(s)) + " images, its error bar the 95% bootstrap interval of the mean.";
  for (const std::string& method : s.methods) {
    chart.series.push_back(method);
    chart.colors.push_back(colors.of(method));
  }
  for (const std::string& metric : s.metrics) {
    BarGroup group{metric_heading(metric), decimals.at(metric), {}};
    for (const std::string& method : s.methods) {
      const SummaryEntry* e = find_summary(s, method, metric);
      if (e) {
        group.bars.push_back(BarValue{e->mean, e->low, e->high});
        chart.description += " " + method + ", " + group.label + ": " + fixed(e->mean, group.decimals) + " " +
                             interval_text(e->low, e->high, group.decimals) + ".";
      } else {
        group.bars.push_back(std::nullopt);
      }
    }
    chart.groups.push_back(std::move(group));
  }
  return "<figure class=\"bars\">\n" + render_bar_chart(chart) +
         "<figcaption>Mean of each method (bar) with the 95% bootstrap interval of the mean (error bar). An axis "
         "with a break mark does not start at zero.</figcaption>\n</figure>\n";
}

std::string scatter_plots(const StudyOnPage& study, const MethodColors& colors, ChartIds& ids) {
  const StudyFolder& s = study.data;
  if (s.comparisons.empty()) return "";
  const std::map<std::string, int> decimals = metric_decimals(s);
  std::string out =
      "<h3>Image by image</h3>\n<p class=\"muted\">Each point is one image, measured both ways. Above the dashed "
      "diagonal the method on the y axis scored higher; the corner notes say which side is better for the "
      "metric.</p>\n<div class=\"figure-grid\">\n";
  for (const ComparisonEntry& c : s.comparisons) {
    const int d = decimals.at(c.metric);
    const std::map<std::string, double> xs = s.measurements.by_image(c.first, c.metric);
    const std::map<std::string, double> ys = s.measurements.by_image(c.second, c.metric);
    ScatterPlot plot;
    plot.id = ids.next();
    plot.title = c.second + " against " + c.first + ", " + metric_heading(c.metric) + ", per image";
    plot.x_label = c.first + " \xC2\xB7 " + metric_heading(c.metric);
    plot.y_label = c.second + " \xC2\xB7 " + metric_heading(c.metric);
    plot.color = colors.of(c.second);
    const bool higher = s.higher_is_better(c.metric);
    plot.above_label = (higher ? c.second : c.first) + " better";
    plot.below_label = (higher ? c.first : c.second) + " better";
    std::size_t above = 0;
    for (const auto& [image, x] : xs) {
      const auto y = ys.find(image);
      if (y == ys.end()) continue;
      plot.points.push_back(
          {x, y->second, image + ": " + c.first + " " + fixed(x, d) + ", " + c.second + " " + fixed(y->second, d)});
      above += y->second > x;
    }
    plot.description = "Scatter plot of " + std::to_string(plot.points.size()) + " images: " + c.first + " on x, " +
                       c.second + " on y, with the line y = x. " + std::to_string(above) + " of them lie above it (" +
                       c.second + " higher).";
    out += "<figure class=\"scatter\">\n" + render_scatter_plot(plot) + "<figcaption>" + esc(c.second) + " against " +
           esc(c.first) + ", " + esc(metric_heading(c.metric)) + ": " + std::to_string(above) + " of " +
           std::to_string(plot.points.size()) + " images above the diagonal.</figcaption>\n</figure>\n";
  }
  return out + "</div>\n";
}

std::string grid_figures(const StudyOnPage& study) {
  const StudyFolder& s = study.data;
  if (s.grids.empty()) return "";
  std::string out = "<h3>Comparison grids</h3>\n<div class=\"grids\">\n";
  for (std::size_t i = 0; i < s.grids.size(); ++i) {
    const GridEntry& g = s.grids[i];
    std::string columns, alt;
    for (const std::string& c : g.columns) {
      columns += "<span>" + esc(c) + "</span>";
      alt += (alt.empty() ? "" : " | ") + c;
    }
    const std::string url = esc(study.grid_urls[i]);
    out += "<figure class=\"grid\">\n";
    if (!g.columns.empty())
      out += "<div class=\"grid-columns\" style=\"grid-template-columns:repeat(" + std::to_string(g.columns.size()) +
             ",1fr)\">" + columns + "</div>\n";
    out += "<a href=\"" + url + "\"><img src=\"" + url + "\" alt=\"" +
           esc("Comparison grid of " + g.image + (alt.empty() ? "" : ": " + alt)) + "\" loading=\"lazy\"></a>\n";
    out += "<figcaption>" + esc(g.image) + (alt.empty() ? "" : " \xE2\x80\x94 " + esc(alt)) +
           ". Each column carries a 2\xC3\x97 zoomed inset of one disk's rim.</figcaption>\n</figure>\n";
  }
  return out + "</div>\n";
}

}  // namespace

std::string headline_card(const StudyOnPage& study, const MethodColors& colors) {
  const StudyFolder& s = study.data;
  const std::map<std::string, int> decimals = metric_decimals(s);
  std::string out = "<article class=\"card\">\n<h2><a href=\"#" + esc(study.anchor()) + "\">" + esc(s.title) +
                    "</a></h2>\n<p class=\"card-meta\">" + esc(s.study) + " \xC2\xB7 " +
                    std::to_string(image_count(s)) + " images</p>\n";
  out += "<table class=\"headline\" data-study=\"" + esc(study.key) + "\">\n<thead><tr><th>method</th>";
  for (const std::string& metric : s.metrics) out += "<th class=\"num\">" + esc(metric_heading(metric)) + "</th>";
  out += "</tr></thead>\n<tbody>\n";
  for (const std::string& method : s.methods) {
    out += "<tr data-method=\"" + esc(method) + "\"><th scope=\"row\">" + method_cell(method, colors) + "</th>";
    for (const std::string& metric : s.metrics) {
      const SummaryEntry* e = find_summary(s, method, metric);
      const int d = decimals.at(metric);
      out += "<td class=\"num\" data-metric=\"" + esc(metric) + "\">";
      if (e)
        out += "<span class=\"value\">" + fixed(e->mean, d) + "</span> <span class=\"ci\">" +
               interval_text(e->low, e->high, d) + "</span>";
      else
        out += kNotANumber;
      out += "</td>";
    }
    out += "</tr>\n";
  }
  out += "</tbody>\n</table>\n";
  if (!s.comparisons.empty()) {
    out += "<ul class=\"verdicts\">\n";
    for (const ComparisonEntry& c : s.comparisons) out += verdict(c, decimals.at(c.metric), colors);
    out += "</ul>\n";
  }
  return out + "</article>\n";
}

std::string study_section(const StudyOnPage& study, const MethodColors& colors, ChartIds& ids) {
  const StudyFolder& s = study.data;
  std::string out = "<section id=\"" + esc(study.anchor()) + "\" class=\"study\">\n<h2>" + esc(s.title) + "</h2>\n";
  out += "<p class=\"meta\">study <code>" + esc(s.study) + "</code> \xC2\xB7 folder <code>" + esc(s.folder) +
         "</code> \xC2\xB7 " + std::to_string(image_count(s)) + " images";
  const std::string convention = convention_text(s.convention);
  if (!convention.empty()) out += " \xC2\xB7 " + esc(convention);
  out += "</p>\n" + notes_box(s);
  out += "<h3>Summary</h3>\n" + summary_table(study, colors);
  out += "<h3>Comparisons</h3>\n" + comparison_table(study, colors);
  out += bar_chart(study, colors, ids);
  out += scatter_plots(study, colors, ids);
  out += grid_figures(study);
  return out + "</section>\n";
}

}  // namespace microsr::report::html
