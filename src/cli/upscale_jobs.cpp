#include "upscale_jobs.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>

#include "args.h"
#include "image_walk.h"
#include "microsr/error.h"
#include "microsr/image_io.h"

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

// -o with an image extension names one output file: it must be one we can write (issue 13,
// case 7: out.jpg), and there must be one input file (case 8: not a folder named two.png).
void check_file_output(const std::vector<std::string>& inputs, const std::string& output) {
  try {
    format_from_extension(output);
  } catch (const Error&) {
    throw UsageError("-o " + output + ": outputs are PNG (.png) or TIFF (.tif, .tiff); " +
                     fs::path(output).extension().string() + " is read, not written");
  }
  std::error_code ec;
  const bool one_file = inputs.size() == 1 && !fs::is_directory(inputs[0], ec);
  const std::string why =
      inputs.size() == 1 ? "the input is a folder" : std::to_string(inputs.size()) + " inputs are given";
  require_usage(one_file, "-o " + output + " names one image file, but " + why +
                              ": give -o a folder (a name without an image extension)");
}

}  // namespace

// OUTPUT names a single file when there is one input file and OUTPUT has an image extension;
// otherwise it is a folder (created when needed).
UpscalePlan plan_upscale(const std::vector<std::string>& inputs, const std::string& output, const PlanOptions& opt) {
  require(opt.format == "png" || opt.format == "tif" || opt.format == "same",
          "--format must be png, tif or same, got '" + opt.format + "'");
  if (is_image_file(output) && !fs::is_directory(output)) check_file_output(inputs, output);
  UpscalePlan plan;
  const bool single_file =
      inputs.size() == 1 && fs::is_regular_file(inputs[0]) && is_image_file(output) && !fs::is_directory(output);
  if (single_file) {
    plan.jobs.push_back({inputs[0], output});
    return plan;
  }
  auto add = [&](const fs::path& file, const fs::path& relative_dir) {
    const fs::path out =
        fs::path(output) / relative_dir / (file.stem().string() + opt.suffix + output_extension(file, opt.format));
    plan.jobs.push_back({file.string(), out.lexically_normal().string()});
  };
  for (const auto& in : inputs) {
    std::error_code ec;
    if (fs::is_regular_file(in, ec)) {
      if (is_image_file(in))
        add(in, "");
      else
        plan.problems.push_back(in + ": not an image file (expected png, jpg, bmp or tif)");
    } else if (fs::is_directory(in, ec)) {
      const std::size_t problems_before = plan.problems.size();
      const std::vector<fs::path> found = list_images(in, output, plan.problems);
      if (found.empty() && plan.problems.size() == problems_before)
        plan.problems.push_back(in + ": no images in this folder");
      for (const auto& f : found) add(f, f.parent_path().lexically_relative(in));
    } else if (fs::exists(in, ec)) {
      plan.problems.push_back(in +
                              ": not a regular file or folder (a device, pipe or socket?): give image files or "
                              "folders");
    } else {
      plan.problems.push_back(in + ": no such file or folder");
    }
  }
  // An input that another input's job writes is this tool's own file from an earlier run (an
  // output folder equal to the input folder, with --suffix): left out, with a note.
  std::vector<fs::path> output_of;  // absolute_normal of each job's output, computed once
  for (const auto& job : plan.jobs) output_of.push_back(absolute_normal(job.output));
  const std::set<fs::path> outputs(output_of.begin(), output_of.end());
  std::vector<UpscaleJob> inputs_only;
  for (std::size_t j = 0; j < plan.jobs.size(); ++j) {
    const UpscaleJob& job = plan.jobs[j];
    const fs::path input = absolute_normal(job.input);
    if (outputs.count(input) && input != output_of[j])
      plan.notes.push_back(job.input + ": an output of this command (an earlier run's), not an input");
    else
      inputs_only.push_back(job);
  }
  plan.jobs = std::move(inputs_only);

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
