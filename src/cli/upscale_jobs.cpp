#include "upscale_jobs.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>

#include "microsr/error.h"

namespace microsr::cli {
namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

// The output extension for an input under --format.
std::string output_extension(const fs::path& input, const std::string& format) {
  if (format == "png") return ".png";
  if (format == "tif") return ".tif";
  const std::string ext = lower(input.extension().string());
  return ext == ".tif" || ext == ".tiff" ? input.extension().string() : ".png";  // we write PNG and TIFF only
}

}  // namespace

bool is_image_file(const std::string& path) {
  static const std::set<std::string> kExtensions = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"};
  return kExtensions.count(lower(fs::path(path).extension().string())) > 0;
}

// OUTPUT names a single file when there is one input file and OUTPUT has an image extension;
// otherwise it is a folder (created when needed).
UpscalePlan plan_upscale(const std::vector<std::string>& inputs, const std::string& output, const PlanOptions& opt) {
  require(opt.format == "png" || opt.format == "tif" || opt.format == "same",
          "--format must be png, tif or same, got '" + opt.format + "'");
  UpscalePlan plan;
  const bool single_file = inputs.size() == 1 && fs::is_regular_file(inputs[0]) && is_image_file(output) &&
                           !fs::is_directory(output);
  if (single_file) {
    plan.jobs.push_back({inputs[0], output});
    return plan;
  }
  auto add = [&](const fs::path& file, const fs::path& relative_dir) {
    const fs::path out = fs::path(output) / relative_dir /
                         (file.stem().string() + opt.suffix + output_extension(file, opt.format));
    plan.jobs.push_back({file.string(), out.lexically_normal().string()});
  };
  for (const auto& in : inputs) {
    std::error_code ec;
    if (fs::is_regular_file(in, ec)) {
      if (is_image_file(in)) add(in, "");
      else plan.problems.push_back(in + ": not an image file (expected png, jpg, bmp or tif)");
    } else if (fs::is_directory(in, ec)) {
      std::vector<fs::path> found;
      fs::recursive_directory_iterator it(in, fs::directory_options::skip_permission_denied, ec), end;
      if (ec) {
        plan.problems.push_back(in + ": cannot read the folder (" + ec.message() + ")");
        continue;
      }
      for (; it != end; it.increment(ec)) {
        if (ec) {
          plan.problems.push_back(in + ": stopped listing the folder (" + ec.message() + ")");
          break;
        }
        if (it->is_regular_file(ec) && is_image_file(it->path().string())) found.push_back(it->path());
      }
      std::sort(found.begin(), found.end());
      if (found.empty()) plan.problems.push_back(in + ": no images in this folder");
      for (const auto& f : found) add(f, f.parent_path().lexically_relative(in));
    } else {
      plan.problems.push_back(in + ": no such file or folder");
    }
  }
  // Two inputs must never write the same output (e.g. a.png and a.tif with --format png), and no
  // output may replace its own input: such jobs are dropped and reported.
  std::set<std::string> seen;
  std::vector<UpscaleJob> kept;
  for (const auto& job : plan.jobs) {
    std::error_code ec;
    if (!seen.insert(job.output).second)
      plan.problems.push_back(job.input + ": would write " + job.output +
                              ", which another input writes too (use --format same or a --suffix)");
    else if (fs::exists(job.output, ec) && fs::equivalent(job.input, job.output, ec))
      plan.problems.push_back(job.input + ": the output would replace the input; choose another -o or a --suffix");
    else
      kept.push_back(job);
  }
  plan.jobs = std::move(kept);
  return plan;
}

}  // namespace microsr::cli
