// Evaluation studies: the seed's questions answered with numbers, intervals and pictures.
// docs/evaluation.md describes each study and the files it writes.
//
// Every study is a table of measurements — one row per (image, method), one column per metric —
// plus what to make of it: per method and metric a summary with a bootstrap interval, and paired
// comparisons between methods on the same images (include/microsr/statistics.h). write_study()
// turns a StudyResult into a study folder; read_study() reads one back (to merge shards).
//
// The "reference" studies (sr_pairs, truth, cross_mag) share one loop: an input image is
// enlarged ×scale by each method — bicubic and every model — optionally mapped onto the
// reference's pixel grid, and measured against the reference with PSNR and SSIM.
#pragma once
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "microsr/backend.h"
#include "microsr/image_io.h"
#include "microsr/metrics.h"
#include "microsr/rrdbnet.h"
#include "microsr/statistics.h"
#include "microsr/tiler.h"

namespace microsr {

// ---- the table of one study -------------------------------------------------------------------

struct StudyRow {
  std::string image, method;
  std::vector<double> values;  // one per metric, in StudyResult::metrics order
};

struct ComparisonGrid {
  std::string image;                 // the row's image
  std::string file;                  // relative to the study folder: grids/NAME.png
  std::vector<std::string> columns;  // left to right
};

struct StudyResult {
  std::string study;       // folder name: sr_pairs, workflow, truth, cross_mag
  std::string title;       // one line for a person
  std::string convention;  // "skimage" / "basicsr" for PSNR/SSIM; "" for others
  std::vector<std::string> metrics;
  std::vector<Better> better;                                // per metric
  std::vector<std::string> methods;                          // display order
  std::vector<std::pair<std::string, std::string>> compare;  // (first, second): second − first
  std::vector<StudyRow> rows;
  std::vector<ComparisonGrid> grids;
  std::vector<std::pair<std::string, std::string>> settings;  // shown as a table
  std::vector<std::string> notes;                             // shown as sentences
};

// Writes DIR/detailed_metrics.csv and DIR/summary.json (atomically; DIR is created). Rows whose
// value is not finite (PSNR of two identical images) are kept in the CSV and left out of the
// summary, with a note.
void write_study(const std::string& dir, const StudyResult& study);
// Reads a study folder back: summary.json's description and detailed_metrics.csv's rows.
StudyResult read_study(const std::string& dir);
// The union of shards of one study (same study, metrics and methods); an image measured twice by
// one method is an Error.
StudyResult merge_studies(const std::vector<StudyResult>& shards);

// ---- the reference studies ----------------------------------------------------------------------

// One network to evaluate, under the label the tables use ("pretrained", "fine-tuned").
struct LabelledModel {
  std::string label;
  RRDBNet* net = nullptr;
};

// One measured item: an input to enlarge and the reference the result is measured against.
struct ReferenceItem {
  std::string name;
  Image input, reference;
};

struct ReferenceStudyOptions {
  std::vector<LabelledModel> models;
  Backend* backend = nullptr;
  TileOptions tiles;  // tile < 0: auto
  MetricOptions metric;
  int scale = 4;
  int grids = 4;  // comparison grids for the first N items (0: none)
  // The enlarged image (input size × scale) on the reference's pixel grid; empty: the identity
  // (then the enlarged image must have the reference's size).
  std::function<Image(const Image& enlarged, const ReferenceItem& item)> to_reference_grid;
  std::function<void(const std::string&)> progress;  // one line per item
  std::function<bool()> stop_requested;              // polled between items
};

// Measures `count` items (`load(i)` reads the i-th when its turn comes, so only one is in memory)
// with bicubic (cv2.INTER_CUBIC) and every model: fills study.rows, .methods ("bicubic", then the
// model labels), .metrics (psnr, ssim), .compare (bicubic → each model, and each model → the
// next), and writes comparison grids into `folder`/grids/. Returns false when stopped early.
bool run_reference_study(StudyResult& study, std::size_t count, const std::function<ReferenceItem(std::size_t)>& load,
                         const ReferenceStudyOptions& options, const std::string& folder);

// ×scale bicubic as cv2.resize(INTER_CUBIC), clamped to [0, 1]; channels and bit depth kept.
Image bicubic_enlarge(const Image& image, int scale);

// Area-weighted resampling of `image` onto another pixel grid of the same scene: output pixel
// (i, j) covers source edge coordinates [x0 + i·step, x0 + (i+1)·step] × [y0 + j·step, ...]
// (step ≥ 1: a reduction), each source pixel weighted by its overlap. The window must lie inside
// the image. Channels and bit depth kept.
Image resample_area(const Image& image, double x0, double y0, double step, int out_width, int out_height);

// ---- comparison grids ---------------------------------------------------------------------------

// The columns (same size) side by side, 4 px apart, each cut to at most `side`×`side` around the
// region of strongest edges in `columns.back()` (the reference), with a 2× zoomed inset of that
// region's most edged 1/4 in its lower right corner. RGB, 8-bit.
Image comparison_grid(const std::vector<const Image*>& columns, int side = 256);

// ---- the workflow study -------------------------------------------------------------------------

// A box in an image's pixels (x, y: top left; w, h: size).
struct PixelBox {
  int x = 0, y = 0, w = 0, h = 0;
};

struct WorkflowOptions {
  RRDBNet* net = nullptr;
  Backend* backend = nullptr;
  TileOptions tiles;
  int scale = 4;
  int context = 16;  // Method 2 with margin: LR pixels of context around each crop
  int grids = 4;
  std::function<void(const std::string&)> progress;
  std::function<bool()> stop_requested;
};

// The seed's two workflows on one LR image and its disk boxes: Method 1 upscales the whole image
// and cuts each box × scale out of it; Method 2 cuts each box out of the LR image and upscales
// the crop alone, with and without `context` pixels around it. Adds rows (image "NAME#ID",
// methods method1, method2, method2_margin; sharpness and edge strength) to `study`.
void run_workflow_image(StudyResult& study, const std::string& name, const Image& lr,
                        const std::vector<std::pair<int, PixelBox>>& boxes, const WorkflowOptions& options,
                        const std::string& folder);
// The study's description (metrics, methods, comparisons) before any row.
StudyResult workflow_study_header();

}  // namespace microsr
