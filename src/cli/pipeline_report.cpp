// The pipeline's report stage: RUN/report.html from the run's studies, training log, detection
// overlays and run.json.
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "microsr/report.h"
#include "subcommands.h"

namespace fs = std::filesystem;

namespace microsr::cli {

int write_pipeline_report(const std::string& run_dir) {
  const fs::path run(run_dir);
  ReportOptions o;
  o.output = (run / "report.html").string();
  o.evaluations = {(run / "evaluate").string()};
  if (fs::exists(run / "finetune" / "tuned.epochs.csv"))
    o.training_csv = (run / "finetune" / "tuned.epochs.csv").string();
  // The held-out images' overlays: what the evaluation's 10X crops were cut from.
  if (fs::is_directory(run / "detect" / "eval"))
    for (const auto& e : fs::directory_iterator(run / "detect" / "eval"))
      if (e.path().filename().string().ends_with("_overlay.png")) o.overlays.push_back(e.path().string());
  std::sort(o.overlays.begin(), o.overlays.end());
  if (o.overlays.size() > 3) o.overlays.resize(3);
  o.settings_json = (run / "run.json").string();
  o.title = "microsr pipeline: " + fs::path(run_dir).lexically_normal().filename().string();
  const ReportWritten written = write_report(o);
  std::fprintf(stderr, "report: %s (%zu studies, %zu images)\n", written.page.c_str(), written.studies, written.images);
  return 0;
}

}  // namespace microsr::cli
