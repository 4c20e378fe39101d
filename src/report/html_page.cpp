// The report's HTML document: head with the inline stylesheet, the header with the headline
// numbers, a table of contents beside the sections, and a footer.
#include "report/html_parts.h"
#include "report/markup.h"
#include "report/report_page.h"

namespace microsr::report {

namespace {

std::string esc(const std::string& s) { return escape_markup(s); }

// "3 studies · training curve (2 epochs) · 1 detection overlay"
std::string lede(const ReportPage& page) {
  std::string out;
  auto add = [&](const std::string& part) { out += (out.empty() ? "" : " \xC2\xB7 ") + part; };
  const std::size_t n = page.studies.size();
  add(std::to_string(n) + (n == 1 ? " study" : " studies"));
  if (page.training) {
    const int epochs = page.training->epochs_trained();
    add("training curve (" + std::to_string(epochs) + (epochs == 1 ? " epoch" : " epochs") + ")");
  }
  if (!page.overlays.empty())
    add(std::to_string(page.overlays.size()) +
        (page.overlays.size() == 1 ? " detection overlay" : " detection overlays"));
  if (!page.absent_studies.empty()) {
    std::string list;
    for (const std::string& a : page.absent_studies) list += (list.empty() ? "" : ", ") + a;
    add("not run: " + list);
  }
  return out;
}

std::string table_of_contents(const ReportPage& page) {
  std::string out = "<nav class=\"toc\" aria-label=\"Contents\">\n<p class=\"toc-title\">Contents</p>\n<ol>\n";
  if (!page.studies.empty()) out += "<li><a href=\"#glance\">At a glance</a></li>\n";
  for (const StudyOnPage& s : page.studies)
    out += "<li><a href=\"#" + esc(s.anchor()) + "\">" + esc(s.data.title) + "</a></li>\n";
  if (page.training) out += "<li><a href=\"#training\">Training</a></li>\n";
  if (!page.overlays.empty()) out += "<li><a href=\"#overlays\">Detection overlays</a></li>\n";
  out += "<li><a href=\"#settings\">Settings</a></li>\n<li><a href=\"#guide\">How to read this page</a></li>\n";
  return out + "</ol>\n</nav>\n";
}

}  // namespace

std::string render_report_html(const ReportPage& page) {
  const html::MethodColors colors(page.studies);
  html::ChartIds ids;
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<meta name=\"generator\" content=\"microsr report\">\n<title>" +
      esc(page.title) + "</title>\n<style>\n" + html::stylesheet() + "</style>\n</head>\n<body>\n";

  out +=
      "<header class=\"page-head\">\n<div class=\"head-inner\">\n<p class=\"eyebrow\">microsr \xC2\xB7 "
      "super-resolution report</p>\n<h1>" +
      esc(page.title) + "</h1>\n<p class=\"lede\">" + esc(lede(page)) + "</p>\n";
  if (!page.studies.empty()) {
    out += "<div id=\"glance\" class=\"cards\">\n";
    for (const StudyOnPage& s : page.studies) out += html::headline_card(s, colors);
    out += "</div>\n";
  }
  out += "</div>\n</header>\n<div class=\"layout\">\n" + table_of_contents(page) + "<main>\n";
  for (const StudyOnPage& s : page.studies) out += html::study_section(s, colors, ids);
  if (page.training) out += html::training_section(*page.training, ids);
  if (!page.overlays.empty()) out += html::overlays_section(page.overlays);
  out += html::settings_section(page);
  out += html::reading_guide(page);
  out += "</main>\n</div>\n<footer class=\"page-foot\">Written by <code>microsr report</code>";
  if (!page.files_folder.empty())
    out += " \xC2\xB7 images in <code>" + esc(page.files_folder) + "/</code> beside this page";
  return out + " \xC2\xB7 charts are inline SVG; the page runs no scripts.</footer>\n</body>\n</html>\n";
}

}  // namespace microsr::report
