// PairSet::load: a pair folder (manifest.csv, or lr/ and hr/ matched by name) into memory.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "microsr/error.h"
#include "microsr/pairs.h"

namespace microsr {
namespace fs = std::filesystem;

namespace {

std::string size_text(int w, int h) { return std::to_string(w) + "×" + std::to_string(h); }

bool is_image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext == ".png" || ext == ".tif" || ext == ".tiff" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

// The colour planes as RGB: gray replicated three times, alpha dropped. The model is 3-channel.
Image as_rgb(Image image) {
  if (image.channels == 3) return image;
  const std::size_t plane = std::size_t(image.width) * image.height;
  std::vector<float> rgb(3 * plane);
  const bool gray = image.channels <= 2;
  for (int c = 0; c < 3; ++c) std::copy_n(image.plane(gray ? 0 : c), plane, rgb.begin() + c * plane);
  image.pixels = std::move(rgb);
  image.channels = 3;
  return image;
}

// Files of a folder by stem; a stem seen twice (a.png and a.tif) is a problem.
std::map<std::string, std::string> images_by_stem(const fs::path& folder, std::vector<std::string>& problems) {
  std::map<std::string, std::string> found;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(folder))
    if (entry.is_regular_file() && is_image_name(entry.path())) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    const auto [it, fresh] = found.emplace(f.stem().string(), f.filename().string());
    if (!fresh)
      problems.push_back(folder.filename().string() + "/: both " + it->second + " and " + f.filename().string() +
                         " are named " + it->first);
  }
  return found;
}

// Without a manifest: lr/NAME.* and hr/NAME.* are a pair; a name in only one folder is a problem.
std::vector<ManifestRow> rows_from_folders(const fs::path& dir, std::vector<std::string>& problems) {
  for (const char* sub : {"hr", "lr"})
    require(fs::is_directory(dir / sub), "the pair folder " + dir.string() + " has no manifest.csv and no " + sub +
                                             "/ folder (make one with `microsr make-pairs HR_DIR -o " + dir.string() +
                                             "`)");
  const auto hr = images_by_stem(dir / "hr", problems);
  const auto lr = images_by_stem(dir / "lr", problems);
  std::vector<ManifestRow> rows;
  for (const auto& [name, file] : hr) {
    const auto partner = lr.find(name);
    if (partner == lr.end()) {
      problems.push_back("hr/" + file + " has no LR partner lr/" + name + ".*");
      continue;
    }
    ManifestRow r;
    r.name = name, r.hr = "hr/" + file, r.lr = "lr/" + partner->second;
    r.hr_width = r.hr_height = r.lr_width = r.lr_height = -1;  // unknown: taken from the files
    r.scale = 0;
    rows.push_back(r);
  }
  for (const auto& [name, file] : lr)
    if (!hr.count(name)) problems.push_back("lr/" + file + " has no HR partner hr/" + name + ".*");
  return rows;
}

// Checks one pair against its manifest row and the scale; returns "" or the problem.
std::string check_pair(const ManifestRow& row, const Image& lr, const Image& hr, int scale) {
  const bool listed = row.hr_width >= 0;
  if (listed && (hr.width != row.hr_width || hr.height != row.hr_height))
    return row.hr + " is " + size_text(hr.width, hr.height) + " but manifest.csv says " +
           size_text(row.hr_width, row.hr_height);
  if (listed && (lr.width != row.lr_width || lr.height != row.lr_height))
    return row.lr + " is " + size_text(lr.width, lr.height) + " but manifest.csv says " +
           size_text(row.lr_width, row.lr_height);
  if (hr.width != lr.width * scale || hr.height != lr.height * scale)
    return row.name + ": HR " + size_text(hr.width, hr.height) + " is not LR " + size_text(lr.width, lr.height) +
           " × " + std::to_string(scale) + " (expected HR " + size_text(lr.width * scale, lr.height * scale) + ")";
  return "";
}

}  // namespace

PairSet PairSet::load(const std::string& dir_name, int scale) {
  const fs::path dir(dir_name);
  require(fs::is_directory(dir), "the pair folder " + dir_name + " does not exist or is not a folder");
  require(scale >= 0, "scale must be ≥ 0 (0: from the manifest or the image sizes)");
  std::vector<std::string> problems;
  const fs::path manifest = dir / "manifest.csv";
  const bool has_manifest = fs::exists(manifest);
  std::vector<ManifestRow> rows = has_manifest ? read_manifest(manifest.string()) : rows_from_folders(dir, problems);

  PairSet set;
  set.scale = scale;
  for (const ManifestRow& row : rows) {
    if (has_manifest) {
      if (set.scale == 0) set.scale = row.scale;
      if (row.scale != set.scale) {
        problems.push_back(row.name + ": manifest.csv says scale " + std::to_string(row.scale) + ", expected " +
                           std::to_string(set.scale));
        continue;
      }
    }
    TrainingPair pair;
    pair.name = row.name;
    try {
      pair.hr = read_image((dir / row.hr).string());
      pair.lr = read_image((dir / row.lr).string());
    } catch (const Error& e) {
      problems.push_back(e.what());
      continue;
    }
    if (set.scale == 0) {  // no manifest, no scale given: the first pair decides
      set.scale = std::max(1, pair.hr.width / pair.lr.width);
    }
    const std::string problem = check_pair(row, pair.lr, pair.hr, set.scale);
    if (!problem.empty()) {
      problems.push_back(problem);
      continue;
    }
    pair.lr = as_rgb(std::move(pair.lr));
    pair.hr = as_rgb(std::move(pair.hr));
    set.pairs.push_back(std::move(pair));
  }

  if (!problems.empty()) {
    std::string message = "the pair folder " + dir_name + " has " + std::to_string(problems.size()) + " problem" +
                          (problems.size() == 1 ? "" : "s") + ":";
    constexpr std::size_t kShown = 20;
    for (std::size_t i = 0; i < std::min(problems.size(), kShown); ++i) message += "\n  " + problems[i];
    if (problems.size() > kShown) message += "\n  ... and " + std::to_string(problems.size() - kShown) + " more";
    throw Error(message);
  }
  require(!set.pairs.empty(), "the pair folder " + dir_name + " holds no pairs" +
                                  (has_manifest ? std::string(" (manifest.csv has no rows)") : ""));
  return set;
}

}  // namespace microsr
