// Which file goes where: the plan of an `upscale` run, made before any pixel is touched, so the
// user sees the whole job (and every unreadable input) up front.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "device_choice.h"
#include "image_walk.h"
#include "microsr/backend.h"
#include "microsr/rrdbnet.h"

namespace microsr::cli {

struct UpscaleJob {
  std::string input;
  std::string output;
};

struct UpscalePlan {
  std::vector<UpscaleJob> jobs;
  std::vector<std::string> problems;  // inputs that cannot be processed, one line each
  std::vector<std::string> notes;     // files left out on purpose (this tool's own outputs)
};

struct PlanOptions {
  std::string format = "same";  // png | tif | same (tif stays tif; png/jpg/bmp become png)
  std::string suffix;           // appended to the stem: name<suffix>.<ext>
};

// INPUT... are files or folders (searched recursively by list_images, image_walk.h: hidden files
// and an output tree nested inside are left out; the folder structure below each one is
// mirrored under OUTPUT). An input that another input's job writes — this tool's own output of
// an earlier run, when OUTPUT is the input folder and --suffix names the outputs — is left out
// with a note. OUTPUT is a file when there is exactly one input file and OUTPUT has an
// image extension (and is not an existing folder); otherwise it is a folder. Throws UsageError
// for an OUTPUT with an image extension we cannot write (.jpg, .bmp) and for one with an image
// extension given several inputs or a folder.
UpscalePlan plan_upscale(const std::vector<std::string>& inputs, const std::string& output, const PlanOptions& opt);

// The tile size for --tile auto: the largest whose forward pass fits in what the backend's device
// can still give — half the host's available memory for the CPU, 80% of the GPU's free memory
// (plus this backend's cached blocks) less one cuDNN workspace for CUDA.
int auto_tile_for(const Backend& backend, const RRDBNetConfig& config, int tile_pad, Precision precision);
// --batch auto: how many pieces of a `tile` (+ 2·tile_pad) fit one forward pass: 1 on the CPU
// (batching gains nothing there) and for whole images (tile 0); at most 64.
int auto_batch_for(const Backend& backend, const RRDBNetConfig& config, int tile, int tile_pad, Precision precision);

}  // namespace microsr::cli
