// A study folder as `microsr evaluate` writes it (docs/evaluation.md): summary.json, what the
// report's tables show, and detailed_metrics.csv, the per-image values behind them.
#pragma once
#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace microsr::report {

struct SummaryEntry {
  std::string method, metric;
  std::size_t count = 0;
  double mean = 0, median = 0, low = 0, high = 0;  // NaN where summary.json has null
  std::size_t left_out = 0;                        // values that were not finite (PSNR of identical images)
};

struct ComparisonEntry {
  std::string first, second, metric;
  std::size_t count = 0;
  double mean_difference = 0, low = 0, high = 0;  // of second − first
  std::string winner;                             // a method label, or "tie"
  double certainty = 0;                           // in [0, 1]
};

struct GridEntry {
  std::string image, file;  // file: relative to the study folder
  std::vector<std::string> columns;
};

// detailed_metrics.csv: one row per (image, method).
struct Measurements {
  struct Row {
    std::string image, method;
    std::vector<double> values;  // one per metric column; NaN where the field is empty
  };
  std::vector<std::string> metrics;  // the CSV's metric columns, in its order
  std::vector<Row> rows;

  // The finite values of `metric` measured with `method`, by image (in image-name order: the order
  // evaluate computes its statistics in). Empty when the metric is no column.
  std::map<std::string, double> by_image(const std::string& method, const std::string& metric) const;
};

struct StudyFolder {
  std::string folder;  // as found
  std::string study, title, convention;
  std::vector<std::string> metrics, methods;
  std::map<std::string, std::string> better;  // metric → "higher" | "lower" (absent: higher)
  std::vector<SummaryEntry> summary;
  std::vector<ComparisonEntry> comparisons;
  std::vector<GridEntry> grids;
  std::vector<std::pair<std::string, std::string>> settings;  // in file order
  std::vector<std::string> notes;
  Measurements measurements;
  std::vector<std::string> warnings;  // inconsistencies between the two files, worded for the page

  bool higher_is_better(const std::string& metric) const;
};

// Reads FOLDER/summary.json and FOLDER/detailed_metrics.csv. Throws Error naming the file and
// what is wrong: missing, not JSON, a field missing or of the wrong type, a method or metric that
// the file does not list, a grid path outside the folder, a CSV without a listed metric. A grid
// file that is missing is left out with a warning.
StudyFolder read_study_folder(const std::string& folder);

// The study folders an --eval argument names: DIR itself when it holds summary.json, else the
// subfolders that do (sr_pairs, workflow, truth, cross_mag in that order, then others by name).
// `absent` receives the known studies DIR does not hold (only when DIR holds study folders).
// Throws Error naming DIR/summary.json when there is neither, and naming a known study folder's
// summary.json when that folder exists without one (a run that did not finish).
std::vector<std::string> find_study_folders(const std::string& dir, std::vector<std::string>* absent = nullptr);

// The studies evaluate writes, in the order a report shows them.
const std::vector<std::string>& known_studies();

}  // namespace microsr::report
