// The page's other sections: the training curve, the detection overlays, the settings, and how to
// read the page.
#include <algorithm>
#include <cmath>
#include <set>

#include "report/html_parts.h"
#include "report/markup.h"
#include "report/number_text.h"
#include "report/svg_chart.h"

namespace microsr::report::html {

namespace {

std::string esc(const std::string& s) { return escape_markup(s); }

double largest_magnitude(const std::vector<double>& v) {
  double m = 0;
  for (const double x : v)
    if (std::isfinite(x)) m = std::max(m, std::fabs(x));
  return m;
}

// "30.30 dB before training → 38.50 dB after epoch 3 (+8.20 dB)": the first and the last value
// the log has for a series, or "" when it has none.
std::string progress_line(const TrainingLog& log, const std::vector<double>& values, const std::string& unit,
                          int decimals) {
  std::size_t first = values.size(), last = values.size();
  for (std::size_t i = 0; i < values.size(); ++i)
    if (std::isfinite(values[i])) {
      if (first == values.size()) first = i;
      last = i;
    }
  if (first == values.size()) return "";
  auto at = [&](std::size_t i) {
    return log.epoch[i] == 0 ? std::string("before training") : "after epoch " + svg_number(log.epoch[i]);
  };
  std::string out = fixed(values[first], decimals) + unit + " " + at(first);
  if (last != first)
    out += " \xE2\x86\x92 <strong>" + fixed(values[last], decimals) + unit + "</strong> " + at(last) + " (" +
           signed_fixed(values[last] - values[first], decimals) + unit + ")";
  return out;
}

std::string epoch_table(const TrainingLog& log) {
  const int loss_decimals = decimals_for(largest_magnitude(log.mean_loss)) + 1;
  std::string out =
      "<details>\n<summary>Per-epoch values</summary>\n<div class=\"table-wrap\"><table class=\"epochs\">\n"
      "<thead><tr><th class=\"num\">epoch</th><th class=\"num\">mean loss</th><th class=\"num\">PSNR params</th>"
      "<th class=\"num\">PSNR params_ema</th><th class=\"num\">SSIM params</th><th class=\"num\">SSIM params_ema</th>"
      "<th class=\"num\">seconds</th></tr></thead>\n<tbody>\n";
  for (std::size_t i = 0; i < log.epoch.size(); ++i)
    out += "<tr><td class=\"num\">" + svg_number(log.epoch[i]) + "</td><td class=\"num\">" +
           fixed(log.mean_loss[i], loss_decimals) + "</td><td class=\"num\">" + fixed(log.val_psnr[i], 2) +
           "</td><td class=\"num\">" + fixed(log.ema_val_psnr[i], 2) + "</td><td class=\"num\">" +
           fixed(log.val_ssim[i], 4) + "</td><td class=\"num\">" + fixed(log.ema_val_ssim[i], 4) +
           "</td><td class=\"num\">" + fixed(log.seconds[i], 1) + "</td></tr>\n";
  return out + "</tbody>\n</table></div>\n</details>\n";
}

std::string key_value_table(const SettingRows& rows) {
  std::string out = "<div class=\"table-wrap\"><table class=\"settings\">\n<tbody>\n";
  for (const auto& [key, value] : rows)
    out += "<tr><th scope=\"row\"><code>" + esc(key) + "</code></th><td>" + esc(value) + "</td></tr>\n";
  return out + "</tbody>\n</table></div>\n";
}

}  // namespace

std::string training_section(const TrainingLog& log, ChartIds& ids) {
  const int epochs = log.epochs_trained();
  std::string out = "<section id=\"training\">\n<h2>Training</h2>\n<p class=\"meta\">log <code>" + esc(log.file) +
                    "</code> \xC2\xB7 " + std::to_string(epochs) + (epochs == 1 ? " epoch" : " epochs") +
                    (epochs < 10 ? " (a short run)" : "") + " \xC2\xB7 epoch 0 is the starting model</p>\n";
  std::string facts;
  if (const std::string p = progress_line(log, log.val_psnr, " dB", 2); !p.empty())
    facts += "<li>validation PSNR of <code>params</code> (the weights as trained): " + p + "</li>\n";
  if (const std::string p = progress_line(log, log.ema_val_psnr, " dB", 2); !p.empty())
    facts += "<li>validation PSNR of <code>params_ema</code> (their moving average): " + p + "</li>\n";
  if (!facts.empty()) out += "<ul class=\"facts\">\n" + facts + "</ul>\n";

  LineChart loss;
  loss.id = ids.next();
  loss.title = "Mean training loss per epoch";
  loss.description =
      "Line chart of the mean L1 training loss of each epoch, over " + std::to_string(epochs) + " epochs.";
  loss.x_label = "epoch";
  loss.y_label = "mean L1 loss";
  loss.value_decimals = decimals_for(largest_magnitude(log.mean_loss)) + 1;
  loss.series.push_back({"mean training loss (L1)", series_color(0), log.epoch, log.mean_loss, false});
  out += "<div class=\"figure-grid two\">\n<figure class=\"line\">\n" + render_line_chart(loss) +
         "<figcaption>Mean L1 loss over each epoch's iterations (none before training).</figcaption>\n</figure>\n";

  if (log.has_validation() || log.has_ema_validation()) {
    LineChart psnr;
    psnr.id = ids.next();
    psnr.title = "Validation PSNR per epoch";
    psnr.description = "Line chart of the validation PSNR after each epoch, for the weights as trained (params)";
    psnr.x_label = "epoch";
    psnr.y_label = "validation PSNR (dB)";
    psnr.value_decimals = 2;
    if (log.has_validation()) psnr.series.push_back({"params", series_color(2), log.epoch, log.val_psnr, false});
    if (log.has_ema_validation()) {
      psnr.series.push_back({"params_ema", series_color(3), log.epoch, log.ema_val_psnr, true});
      psnr.description += " and for their moving average (params_ema)";
    }
    psnr.description += "; epoch 0 is the starting model.";
    out += "<figure class=\"line\">\n" + render_line_chart(psnr) +
           "<figcaption>PSNR on the validation pairs after each epoch; epoch 0 is the model before "
           "training.</figcaption>\n</figure>\n";
  } else {
    out += "<p class=\"muted\">No validation values: finetune ran without a validation set (--val).</p>\n";
  }
  return out + "</div>\n" + epoch_table(log) + "</section>\n";
}

std::string overlays_section(const std::vector<ImageOnPage>& overlays) {
  std::string out =
      "<section id=\"overlays\">\n<h2>Detection overlays</h2>\n<p class=\"muted\">The disks found by detect, drawn "
      "over the source image.</p>\n<div class=\"grids\">\n";
  for (const ImageOnPage& o : overlays) {
    const std::string url = esc(o.url);
    out += "<figure class=\"overlay\">\n<a href=\"" + url + "\"><img src=\"" + url + "\" alt=\"" +
           esc("Detection overlay " + o.name) + "\" loading=\"lazy\"></a>\n<figcaption>" + esc(o.name) +
           "</figcaption>\n</figure>\n";
  }
  return out + "</div>\n</section>\n";
}

std::string settings_section(const ReportPage& page) {
  std::string out = "<section id=\"settings\">\n<h2>Settings</h2>\n";
  bool any = false;
  if (!page.run_settings_file.empty()) {
    out += "<h3>Run</h3>\n<p class=\"meta\">from <code>" + esc(page.run_settings_file) + "</code></p>\n" +
           key_value_table(page.run_settings);
    any = true;
  }
  for (const StudyOnPage& s : page.studies) {
    SettingRows rows = s.data.settings;
    if (!s.data.convention.empty()) rows.insert(rows.begin(), {"convention", s.data.convention});
    if (rows.empty()) continue;
    out += "<h3>" + esc(s.data.title) + "</h3>\n" + key_value_table(rows);
    any = true;
  }
  if (!any) out += "<p class=\"muted\">No settings were recorded.</p>\n";
  return out + "</section>\n";
}

std::string reading_guide(const ReportPage& page) {
  std::string out = "<section id=\"guide\">\n<h2>How to read this page</h2>\n";
  std::vector<std::string> metrics;
  std::set<std::string> conventions;
  for (const StudyOnPage& s : page.studies) {
    for (const std::string& m : s.data.metrics)
      if (std::find(metrics.begin(), metrics.end(), m) == metrics.end()) metrics.push_back(m);
    if (!s.data.convention.empty()) conventions.insert(s.data.convention);
  }
  if (!metrics.empty()) {
    out += "<h3>Metrics</h3>\n<dl class=\"definitions\">\n";
    for (const std::string& m : metrics) {
      const MetricInfo info = metric_info(m);
      out += "<dt>" + esc(metric_heading(m)) + "</dt><dd>" +
             esc(info.definition.empty() ? "as the study folder names it (no definition known to the report)."
                                         : info.definition) +
             "</dd>\n";
    }
    for (const std::string& c : conventions)
      if (!convention_text(c).empty())
        out += "<dt>convention " + esc(c) + "</dt><dd>" + esc(convention_text(c)) + "</dd>\n";
    out += "</dl>\n";
  }
  out +=
      "<h3>Intervals and comparisons</h3>\n<ul>\n"
      "<li><strong>95% interval</strong>: the bootstrap percentile interval of the mean. The images are resampled "
      "with replacement 2000 times; 95% of the resampled means fall inside. It narrows as the number of images "
      "grows.</li>\n"
      "<li><strong>Comparisons</strong> are paired, image by image: the difference is <em>second " +
      std::string(kMinus) +
      " first</em> on the same images, so hard and easy images cancel out. Its interval comes from resampling the "
      "images.</li>\n"
      "<li><strong>Winner</strong>: the better side of the mean difference, given whether higher or lower is "
      "better for the metric. <strong>Certainty</strong>: the share of resamples whose mean difference has the "
      "same sign: 100% means every resample agrees, 50% is a coin toss. The page calls the winner "
      "<em>better</em> when the certainty is at least 95%, and only <em>ahead</em> (in grey) below that.</li>\n"
      "<li>An interval that excludes 0 and a certainty near 100% mean the difference is unlikely to be luck of "
      "the images drawn; they say nothing about whether it matters in practice.</li>\n</ul>\n";
  if (!page.absent_studies.empty()) {
    std::string list;
    for (const std::string& a : page.absent_studies) list += (list.empty() ? "" : ", ") + a;
    out += "<h3>Studies not in this report</h3>\n<p>" + esc(list) +
           ": the evaluation folder holds none. The truth and cross-magnification studies need synthetic frames "
           "with a known truth; on real images they are skipped.</p>\n";
  }
  return out + "</section>\n";
}

}  // namespace microsr::report::html
