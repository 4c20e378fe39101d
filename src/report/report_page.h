// The report's page as data (what write_report has read and where it put the images), and the
// HTML made from it.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "report/settings_rows.h"
#include "report/study_folder.h"
#include "report/training_log.h"

namespace microsr::report {

struct StudyOnPage {
  StudyFolder data;
  std::string key;                     // unique on the page: the images' subfolder, and the tables' data-study
  std::vector<std::string> grid_urls;  // one per data.grids, relative to the page

  // The section's id: "study-KEY", apart from the page's own ids (training, settings, ...).
  std::string anchor() const { return "study-" + key; }
};

struct ImageOnPage {
  std::string name;  // the source file's name, for the caption
  std::string url;   // relative to the page
};

struct ReportPage {
  std::string title;
  std::vector<StudyOnPage> studies;
  std::vector<std::string> absent_studies;  // known studies an --eval folder of studies lacks
  std::optional<TrainingLog> training;
  std::vector<ImageOnPage> overlays;
  SettingRows run_settings;
  std::string run_settings_file;
  std::string files_folder;  // the images' folder, relative to the page ("" when none)
};

// The whole HTML document. Deterministic: no clock, no random ids.
std::string render_report_html(const ReportPage& page);

}  // namespace microsr::report
