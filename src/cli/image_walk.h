// How every folder-walking command (upscale, make-pairs) lists the images below a folder: one
// rule, so that the same situation behaves the same whichever command meets it.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace microsr::cli {

// True for the extensions microsr reads: png, jpg, jpeg, bmp, tif, tiff (any case).
bool is_image_file(const std::string& path);

// The path made absolute and normalised, links resolved where they exist: the form in which two
// paths to the same place compare equal.
std::filesystem::path absolute_normal(const std::filesystem::path& path);

// The image files below `folder`, recursively, sorted by path. Skipped: hidden files (".name":
// an atomic write's ".NAME.partial-PID" among them) and the whole tree below `output` when it
// lies strictly inside `folder` (a rerun must not take its own earlier outputs as inputs). A
// folder that cannot be read, or stops being listable, adds a line to `problems`.
std::vector<std::filesystem::path> list_images(const std::filesystem::path& folder, const std::filesystem::path& output,
                                               std::vector<std::string>& problems);

// Creates `folder` and its parents for an output (every command that writes a folder calls this). Fails with an Error a
// person can act on — which part of the path is in the way, or why the system refused — instead of a raw
// filesystem_error.
void create_output_folder(const std::filesystem::path& folder);

}  // namespace microsr::cli
