// Metric names and definitions, number precision per metric, and method colours.
#include <algorithm>
#include <cmath>

#include "report/html_parts.h"
#include "report/markup.h"
#include "report/number_text.h"
#include "report/svg_chart.h"

namespace microsr::report::html {

MetricInfo metric_info(const std::string& metric) {
  if (metric == "psnr")
    return {"PSNR", "dB",
            "peak signal-to-noise ratio against the reference, 10\xC2\xB7log\xE2\x82\x81\xE2\x82\x80(L\xC2\xB2 / MSE) "
            "with L the data range; higher is closer to the reference (identical images give \xE2\x88\x9E)."};
  if (metric == "ssim")
    return {"SSIM", "",
            "structural similarity to the reference (Wang et al. 2004; Gaussian window 11\xC3\x97"
            "11, \xCF\x83 = 1.5, valid region only); 1 is identical."};
  if (metric == "sharpness")
    return {"Sharpness", "",
            "variance of the 3\xC3\x97"
            "3 Laplacian of the 8-bit grey image, as var(cv2.Laplacian(grey, CV_64F)); higher means more "
            "fine detail (or noise)."};
  if (metric == "edge_strength")
    return {"Edge strength", "",
            "mean Sobel 3\xC3\x97"
            "3 gradient magnitude of the 8-bit grey image, mean(\xE2\x88\x9A(Gx\xC2\xB2 + Gy\xC2\xB2)) as "
            "cv2.Sobel computes Gx and Gy; higher means stronger edges."};
  return {metric, "", ""};
}

std::string metric_heading(const std::string& metric) {
  const MetricInfo info = metric_info(metric);
  return info.unit.empty() ? info.name : info.name + " (" + info.unit + ")";
}

std::string convention_text(const std::string& convention) {
  if (convention == "skimage")
    return "PSNR and SSIM as scikit-image computes them (the seed's setting): RGB, no border cropped, data range of "
           "the bit depth.";
  if (convention == "basicsr")
    return "PSNR and SSIM as BasicSR computes them: 0\xE2\x80\x93"
           "255 scale, a border of the scale factor cropped, the BT.601 Y channel when asked.";
  return "";
}

std::map<std::string, int> metric_decimals(const StudyFolder& study) {
  std::map<std::string, double> largest;
  for (const SummaryEntry& e : study.summary)
    if (std::isfinite(e.mean)) largest[e.metric] = std::max(largest[e.metric], std::fabs(e.mean));
  std::map<std::string, int> decimals;
  for (const std::string& metric : study.metrics) {
    const auto it = largest.find(metric);
    decimals[metric] = decimals_for(it == largest.end() ? 0 : it->second);
  }
  return decimals;
}

MethodColors::MethodColors(const std::vector<StudyOnPage>& studies) {
  for (const StudyOnPage& s : studies)
    for (const std::string& method : s.data.methods)
      if (!colors_.count(method)) colors_[method] = series_color(colors_.size());
}

std::string MethodColors::of(const std::string& method) const {
  const auto it = colors_.find(method);
  return it == colors_.end() ? "#7f7f7f" : it->second;
}

std::string swatch(const std::string& color) {
  return "<span class=\"swatch\" style=\"background:" + escape_markup(color) + "\"></span>";
}

}  // namespace microsr::report::html
