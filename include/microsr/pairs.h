// Training pairs: making them from HR crops (`microsr make-pairs`), the manifest that lists them,
// loading a pair folder into memory, and drawing aligned random patches for the trainer.
// docs/training_data.md explains the degradation and the sampling with pictures of the numbers.
//
// A pair folder holds hr/NAME.png|tif, lr/NAME.png|tif (same NAME; the LR is the HR reduced
// `scale` times) and manifest.csv, one row per pair.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "microsr/image_io.h"
#include "microsr/imgproc.h"
#include "microsr/tensor.h"

namespace microsr {

// ---- making pairs ------------------------------------------------------------------------------

enum class DegradeOrder { blur_then_resize, resize_then_blur };
const char* degrade_order_name(DegradeOrder order);         // "blur-then-resize" | "resize-then-blur"
DegradeOrder parse_degrade_order(const std::string& name);  // throws Error for anything else

// The two bicubics make-pairs offers: "matlab" (ResizeFilter::bicubic_matlab, antialiased, the
// default) and "opencv" (ResizeFilter::cubic_opencv, cv2.INTER_CUBIC, no antialiasing).
const char* pair_resize_name(ResizeFilter filter);
ResizeFilter parse_pair_resize(const std::string& name);  // throws Error for anything else

struct PairRecipe {
  int scale = 4;            // HR size = LR size × scale, exactly
  double blur_sigma = 0.5;  // Gaussian σ in the pixels of the image it blurs; 0 = no blur
  int min_size = 128;       // HR sides are brought up to at least this (rounded up to × scale)
  DegradeOrder order = DegradeOrder::blur_then_resize;
  ResizeFilter resize = ResizeFilter::bicubic_matlab;  // both for the ÷scale and the min-size upscale
};
void validate(const PairRecipe& recipe);  // throws Error naming the bad field

// The HR of a pair from a source crop: alpha dropped (gray+alpha → gray, RGBA → RGB); when a side
// is shorter than min_size (rounded up to a multiple of scale), the image is enlarged with
// recipe.resize by f = min / shorter side, each side becoming round(side·f) (half up); then the
// right and bottom edges are cut to a multiple of scale (BasicSR's mod_crop keeps the top-left).
// Bit depth and metadata follow the source (resolution scaled by f when enlarged).
Image prepare_hr(const Image& source, const PairRecipe& recipe);

// The LR of a prepared HR (sides divisible by scale): blur_then_resize = gaussian_blur_planes(σ)
// on the HR, then resize_planes to (w/scale, h/scale); resize_then_blur = the reduction first,
// then the blur on the LR. Values are not clamped (the writer clamps). Same channels, bit depth.
Image degrade_to_lr(const Image& hr, const PairRecipe& recipe);

// ---- the manifest ------------------------------------------------------------------------------

// One row of PAIRS_DIR/manifest.csv. Paths hr and lr are relative to the pair folder.
struct ManifestRow {
  std::string name, hr, lr;
  int hr_width = 0, hr_height = 0, lr_width = 0, lr_height = 0;
  int bit_depth = 8, channels = 3;
  std::string source;  // the HR crop it was made from, as given on the command line
  double sigma = 0.5;
  int scale = 4, min_size = 128;
  std::string resize = "matlab", order = "blur-then-resize";
};

// CSV with a header line; fields holding a comma, quote or line break are quoted (RFC 4180).
std::string manifest_csv(const std::vector<ManifestRow>& rows);
// Parses manifest_csv's format; `path` names the file in errors. Columns may come in any order,
// unknown columns are ignored, a missing column is an error.
std::vector<ManifestRow> parse_manifest(const std::string& text, const std::string& path);
std::vector<ManifestRow> read_manifest(const std::string& path);
void write_manifest(const std::string& path, const std::vector<ManifestRow>& rows);  // atomic

// ---- a pair folder in memory -------------------------------------------------------------------

struct TrainingPair {
  std::string name;
  Image lr, hr;  // always 3 channels (gray replicated, alpha dropped), [3][H][W] floats in [0, 1]
};

struct PairSet {
  int scale = 0;
  std::vector<TrainingPair> pairs;

  // Reads dir/manifest.csv, or without one matches dir/lr/* with dir/hr/* by file name (stem).
  // `scale` 0 takes it from the manifest or the image sizes; otherwise it must agree with them.
  // Every pair must have HR size = LR size × scale exactly. All problems are collected and thrown
  // together as one Error (file, expected, found).
  static PairSet load(const std::string& dir, int scale = 0);
  std::size_t size() const { return pairs.size(); }
};

// ---- aligned random patches ------------------------------------------------------------------

struct PatchOptions {
  int batch = 4;
  int lr_patch = 32;       // HR patch = lr_patch × the set's scale
  bool flips = true;       // horizontal and vertical, each with probability 1/2
  bool rotations = false;  // transpose (with the flips: all 8 rotations/reflections), prob. 1/2
  uint64_t seed = 0;
};

// What one sample of a batch was: pair index, LR crop origin, and the augmentation applied.
struct PatchDraw {
  int pair = 0, x = 0, y = 0;  // LR pixels; the HR crop starts at (x·scale, y·scale)
  bool hflip = false, vflip = false, transpose = false;
};

// Epochs without replacement, last partial batch dropped: epoch e is a permutation of all pairs
// (Fisher–Yates driven by SplitMix64 seeded from (seed, e)); its first floor(N / batch)·batch
// entries make floor(N / batch) batches and the other N mod batch pairs sit that epoch out (a
// different random few each epoch). Every draw is a pure function of (seed, epoch, position), so
// the whole state is the number of batches drawn: save_state/load_state resume exactly.
// A pair whose LR is smaller than lr_patch on either side is an Error at construction.
class PatchSampler {
 public:
  PatchSampler(const PairSet& set, const PatchOptions& options);  // `set` must outlive the sampler

  // lr ← [batch][3][p][p], hr ← [batch][3][p·scale][p·scale]; reused when already that shape.
  void next_batch(Tensor& lr, Tensor& hr);

  int64_t batches_per_epoch() const { return int64_t(set_.size()) / options_.batch; }
  int64_t batches_drawn() const { return batches_drawn_; }
  int64_t epoch() const { return batches_drawn_ / batches_per_epoch(); }
  const std::vector<PatchDraw>& last_draws() const { return last_draws_; }  // of the last batch

  // One text line with the configuration and the batch counter. load_state refuses a state made
  // with another seed, batch, patch, augmentation or pair set (names and sizes).
  std::string save_state() const;
  void load_state(const std::string& state);

 private:
  PatchDraw draw(int64_t epoch, int64_t position) const;
  std::string config_key() const;

  const PairSet& set_;
  PatchOptions options_;
  uint64_t fingerprint_ = 0;  // of the pair names and sizes
  int64_t batches_drawn_ = 0;
  std::vector<int> order_;    // permutation of the current epoch
  int64_t order_epoch_ = -1;  // which epoch order_ holds
  std::vector<PatchDraw> last_draws_;
};

}  // namespace microsr
