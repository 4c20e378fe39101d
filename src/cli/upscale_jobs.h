// Which file goes where: the plan of an `upscale` run, made before any pixel is touched, so the
// user sees the whole job (and every unreadable input) up front.
#pragma once
#include <string>
#include <vector>

namespace microsr::cli {

struct UpscaleJob {
  std::string input;
  std::string output;
};

struct UpscalePlan {
  std::vector<UpscaleJob> jobs;
  std::vector<std::string> problems;  // inputs that cannot be processed, one line each
};

struct PlanOptions {
  std::string format = "same";  // png | tif | same (tif stays tif; png/jpg/bmp become png)
  std::string suffix;           // appended to the stem: name<suffix>.<ext>
};

// True for the extensions upscale reads: png, jpg, jpeg, bmp, tif, tiff (any case).
bool is_image_file(const std::string& path);

// INPUT... are files or folders (searched recursively; the folder structure below each one is
// mirrored under OUTPUT). OUTPUT is a file when there is exactly one input file and OUTPUT has an
// image extension (and is not an existing folder); otherwise it is a folder.
UpscalePlan plan_upscale(const std::vector<std::string>& inputs, const std::string& output, const PlanOptions& opt);

}  // namespace microsr::cli
