// microsr report -o PAGE.html --eval DIR...: the HTML report of evaluation studies (src/report/).
#include <cstdio>
#include <string>

#include "args.h"
#include "microsr/report.h"
#include "subcommands.h"

namespace microsr::cli {

namespace {

void check_page_name(const std::string& path) {
  const bool html = path.ends_with(".html") || path.ends_with(".htm");
  require_usage(html && path.find_last_of('/') + 1 < path.rfind('.'),
                "option --output names the page to write, e.g. report.html; got '" + path + "'");
}

const CommandSpec kSpec{
    "report",
    "-o PAGE.html [--eval DIR]... [--training EPOCHS_CSV] [--overlay IMAGE]... [--settings RUN_JSON]\n"
    "       [--title TEXT]",
    R"(Writes one HTML page from the study folders `microsr evaluate` writes: per study the summary
table (mean, median, 95% interval, n), the paired comparisons (difference, interval, winner,
certainty) and notes, a bar chart with error bars, per-image scatter plots and the comparison
grids; with the training curve, detection overlays and the run's settings when given. Charts are
inline SVG; images are copied to PAGE_files/ beside the page. No scripts, no external URLs.
)",
    {
        text("--output", "PAGE", "", "the page to write, NAME.html (required); images go to NAME_files/")
            .short_name("-o")
            .checked_by(check_page_name),
        text("--eval", "DIR", "",
             "a study folder (summary.json + detailed_metrics.csv), or a folder\n"
             "holding them (sr_pairs/, workflow/, truth/, cross_mag/)")
            .repeats(),
        text("--training", "CSV", "", "finetune's NAME.epochs.csv: the training curve"),
        text("--overlay", "IMAGE", "", "a detection overlay image (detect's NAME_overlay.png)").repeats(),
        text("--settings", "JSON", "", "the run's settings, a JSON object (the pipeline's run.json)"),
        text("--title", "TEXT", "microsr report", "the page's title"),
    },
    "The page is written last and atomically, after its images; a missing or malformed summary.json,\n"
    "detailed_metrics.csv, overlay, log or settings file is an error naming it (exit status 1).\n"};

}  // namespace

int run_report(int argc, char** argv) {
  const Args args(argc, argv, kSpec);
  if (args.help()) {
    std::fputs(help_text(kSpec).c_str(), stdout);
    return 0;
  }
  require_usage(args.positional().empty(),
                "takes no arguments besides its options; give study folders with --eval (see --help)");
  require_usage(args.has("--output"), "needs -o PAGE.html (see --help)");
  ReportOptions options;
  options.output = args.output();
  options.evaluations = args.get_all("--eval");
  options.training_csv = args.get("--training");
  options.overlays = args.get_all("--overlay");
  options.settings_json = args.get("--settings");
  options.title = args.get("--title");
  require_usage(!options.evaluations.empty() || !options.training_csv.empty() || !options.overlays.empty(),
                "nothing to report: give --eval DIR, --training CSV or --overlay IMAGE (see --help)");

  const ReportWritten written = write_report(options);
  std::printf("report: %s (%zu %s", written.page.c_str(), written.studies, written.studies == 1 ? "study" : "studies");
  if (written.images) std::printf(", %zu images in %s", written.images, written.files_folder.c_str());
  std::printf(")\n");
  return 0;
}

}  // namespace microsr::cli
