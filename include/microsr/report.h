// The report: one HTML page that shows what `microsr evaluate` measured (docs/evaluation.md,
// "The report"), with the training curve, detection overlays and the run's settings.
//
// write_report() reads every study folder, copies the images the page shows into a folder beside
// it (NAME.html → NAME_files/), and writes the page atomically, last, so that a page on disk never
// points at an image that is not there yet. The page is self-contained apart from that folder:
// inline CSS and SVG charts, no scripts, no external URLs. The same inputs give the same bytes.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace microsr {

struct ReportOptions {
  std::string output;                    // the page, "…/NAME.html" (or .htm)
  std::vector<std::string> evaluations;  // study folders, or folders holding them (sr_pairs/, workflow/, …)
  std::string training_csv;              // finetune's NAME.epochs.csv; "" for none
  std::vector<std::string> overlays;     // detection overlay images (PNG, JPEG, …)
  std::string settings_json;             // the run's settings (e.g. the pipeline's run.json); "" for none
  std::string title = "microsr report";
};

struct ReportWritten {
  std::string page;          // = options.output
  std::string files_folder;  // where the images went ("" when there were none)
  std::size_t studies = 0, images = 0;
};

// Throws Error naming the file and what is wrong: a missing or malformed summary.json or
// detailed_metrics.csv, an overlay that does not exist, an unreadable training log or
// settings file, an output that cannot be written. Nothing is written before every input has
// been read. (A grid image that summary.json lists but that is missing is left out, and the page
// says so.)
ReportWritten write_report(const ReportOptions& options);

// The folder beside `page` that holds its images: "out/report.html" → "out/report_files".
std::string report_files_folder(const std::string& page);

}  // namespace microsr
