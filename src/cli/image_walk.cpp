#include "image_walk.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "microsr/error.h"

namespace microsr::cli {
namespace fs = std::filesystem;

bool is_image_file(const std::string& path) {
  static const std::set<std::string> kExtensions = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"};
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return kExtensions.count(ext) > 0;
}

fs::path absolute_normal(const fs::path& path) {
  std::error_code ec;
  const fs::path p = fs::weakly_canonical(path, ec);
  return ec ? fs::absolute(path).lexically_normal() : p;
}

namespace {

// True when `path` is `root` or lies below it; `root` is already absolute_normal.
bool within(const fs::path& path, const fs::path& root) {
  const fs::path relative = absolute_normal(path).lexically_relative(root);
  return !relative.empty() && *relative.begin() != "..";
}

}  // namespace

std::vector<fs::path> list_images(const fs::path& folder, const fs::path& output, std::vector<std::string>& problems) {
  std::vector<fs::path> found;
  // The output tree is left out only when it is strictly inside the folder: an output folder
  // equal to the input folder (with --suffix) holds the inputs too.
  const fs::path output_normal = output.empty() ? fs::path() : absolute_normal(output);
  const bool output_nested =
      !output.empty() && within(output, absolute_normal(folder)) && !within(folder, output_normal);
  std::error_code ec;
  fs::recursive_directory_iterator it(folder, fs::directory_options::skip_permission_denied, ec), end;
  if (ec) {
    problems.push_back(folder.string() + ": cannot read the folder (" + ec.message() + ")");
    return found;
  }
  for (; it != end; it.increment(ec)) {
    if (ec) {
      problems.push_back(folder.string() + ": stopped listing the folder (" + ec.message() + ")");
      break;
    }
    const fs::path& p = it->path();
    if (output_nested && it->is_directory(ec) && within(p, output_normal)) {
      it.disable_recursion_pending();  // our own earlier outputs
      continue;
    }
    if (p.filename().string().starts_with(".") || !it->is_regular_file(ec) || !is_image_file(p.string())) continue;
    found.push_back(p);
  }
  std::sort(found.begin(), found.end());
  return found;
}

void create_output_folder(const std::filesystem::path& folder) {
  namespace fs = std::filesystem;
  if (folder.empty()) return;
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (!ec && fs::is_directory(folder)) return;
  // The nearest ancestor that exists but is no folder is what is in the way.
  for (fs::path p = folder; !p.empty() && p != p.parent_path(); p = p.parent_path())
    if (fs::exists(p, ec) && !fs::is_directory(p, ec))
      throw Error("cannot create the folder " + folder.string() + ": " + p.string() + " is a file, not a folder");
  throw Error("cannot create the folder " + folder.string() + ": " + ec.message());
}

}  // namespace microsr::cli
