// The pieces of the report's page (html_*.cpp only): metric names, method colours, and one
// function per section. Every text that comes from a file or the command line goes through
// escape_markup; ids and classes are ours.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "report/report_page.h"

namespace microsr::report::html {

// What the page calls a metric, its unit and how it is defined.
struct MetricInfo {
  std::string name;        // "PSNR"; the metric's own key when unknown
  std::string unit;        // "dB", or ""
  std::string definition;  // a sentence, or "" when unknown
};
MetricInfo metric_info(const std::string& metric);
std::string metric_heading(const std::string& metric);  // "PSNR (dB)", "SSIM"
// A sentence on the PSNR/SSIM convention ("skimage", "basicsr"), or "".
std::string convention_text(const std::string& convention);

// The decimals every value of a metric is shown with in one study, from the largest mean in its
// summary (decimals_for): 2 for PSNR in dB, 4 for SSIM, ...; differences use the same.
std::map<std::string, int> metric_decimals(const StudyFolder& study);

// One colour per method label across the whole page, in order of first appearance, so that
// "bicubic" has the same colour in every chart.
class MethodColors {
 public:
  explicit MethodColors(const std::vector<StudyOnPage>& studies);
  std::string of(const std::string& method) const;

 private:
  std::map<std::string, std::string> colors_;
};

// "<span class="swatch" style="background:#…"></span>"
std::string swatch(const std::string& color);

// Charts get ids chart-1, chart-2, … in page order.
class ChartIds {
 public:
  std::string next() { return "chart-" + std::to_string(++count_); }

 private:
  int count_ = 0;
};

std::string headline_card(const StudyOnPage& study, const MethodColors& colors);
std::string study_section(const StudyOnPage& study, const MethodColors& colors, ChartIds& ids);
std::string training_section(const TrainingLog& log, ChartIds& ids);
std::string overlays_section(const std::vector<ImageOnPage>& overlays);
std::string settings_section(const ReportPage& page);
std::string reading_guide(const ReportPage& page);

// The page's stylesheet (inline in <head>).
const char* stylesheet();

}  // namespace microsr::report::html
