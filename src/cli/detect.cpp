// microsr detect INPUT... -o DIR: finds microdisks and cuts them out (include/microsr/detect.h).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "args.h"
#include "io/file_bytes.h"
#include "microsr/detect.h"
#include "microsr/image_io.h"
#include "subcommands.h"

namespace microsr::cli {
namespace fs = std::filesystem;

namespace {

constexpr const char* kHelp = R"(usage: microsr detect INPUT... -o DIR [options]

Finds microdisks in microscope images with the classical pipeline — gray, Gaussian blur, Gaussian
adaptive threshold, elliptical open/close, external contours, area and circularity 4πA/P² filters —
then cuts blobs of touching disks apart (distance transform peaks, watershed) and fits a circle to
each disk's edge (see docs/detection.md), and writes into DIR, per input <name>:
  <name>_disk<ID>.png|.tif  one crop per accepted disk, at the input's bit depth (16-bit: TIFF)
  <name>_overlay.png        accepted boxes in green (labelled with their ID), rejected in red
                            (S too small, L too large, C.xx not round: circularity 0.xx)
and, for all inputs together, detections.csv: one row per contour considered and per part cut
from a blob (parent: the blob's id; the blob's reason is "split"),
  file,id,cx,cy,radius,area,perimeter,circularity,x,y,w,h,accepted,reason,parent
An image without disks gives no crops and no CSV rows; that is not an error.
INPUT: image files (PNG, JPEG, BMP, TIFF; 8/16-bit; gray or RGB). 16-bit images are segmented on
their 8-bit reduction over their real range — the file's SMaxSampleValue, else the smallest bit
depth (8..16) that holds the brightest sample, so 12-bit camera data in a 16-bit file is not
nearly black — or over 0..--window-max; crops keep the original pixels.

options:
  -o, --output DIR        output folder (created if missing; required)
  --blur K                Gaussian blur kernel size, odd; 1 = none (default 5)
  --block-size N          adaptive threshold neighbourhood, odd, >= 3 (default 151: wider than a
                          disk, so that disks come out whole and not as rims)
  --c C                   foreground where pixel > local mean - C (default -2: brighter than
                          the surroundings by more than 2 grey levels)
  --invert                dark disks: foreground where pixel <= local mean - C
  --open K                elliptical opening kernel, odd; 1 = none (default 5)
  --close K               elliptical closing kernel, odd; 1 = none (default 5)
  --min-area A            smallest accepted contour area, pixels^2 (default 300)
  --max-area A            largest accepted contour area, pixels^2 (default 200000)
  --min-circularity X     accepted when circularity > X, in [0, 1] (default 0.6)
  --margin M              pixels added around each disk's box before cropping (default 10)
  --min-crop S            crops are at least S×S pixels, kept inside the image (default 128)
  --window-max N          16-bit input: the sample value shown as white when reducing to 8 bits
                          (default 0: SMaxSampleValue, else the data's own bit depth)
  --classical             stage 1 only: the seed's pipeline as OpenCV runs it (touching disks stay
                          one blob; centre and radius from the outline, not fitted to the edge)
  --split-solidity S      blobs with area / convex hull area below S are examined for touching
                          disks, S in (0, 1] (default 0.95; a lone disk is convex: about 1)
  --split-saddle R        two peaks of a blob's distance transform are separate disks when the ridge
                          between them drops to R × the lower peak or less, R in (0, 1) (default 0.7)
  --no-crops              write only detections.csv and the overlays

exit status: 0 all inputs done, 1 some inputs failed (listed), 2 usage error.
)";

DetectParams params_from(const Args& args) {
  DetectParams p;
  p.blur = args.get_int("--blur", p.blur);
  p.block_size = args.get_int("--block-size", p.block_size);
  p.c = args.get_double("--c", p.c);
  p.invert = args.has("--invert");
  p.open = args.get_int("--open", p.open);
  p.close = args.get_int("--close", p.close);
  p.min_area = args.get_double("--min-area", p.min_area);
  p.max_area = args.get_double("--max-area", p.max_area);
  p.min_circularity = args.get_double("--min-circularity", p.min_circularity);
  p.margin = args.get_int("--margin", p.margin);
  p.min_crop = args.get_int("--min-crop", p.min_crop);
  p.window_max = args.get_int("--window-max", p.window_max);
  p.split = p.fit_circles = !args.has("--classical");
  p.split_solidity = args.get_double("--split-solidity", p.split_solidity);
  p.split_saddle = args.get_double("--split-saddle", p.split_saddle);
  validate(p);
  return p;
}

// A file stem not used yet in this run ("a", then "a_2", "a_3"... for inputs with the same name).
std::string unique_stem(const fs::path& input, std::map<std::string, int>& seen) {
  const std::string stem = input.stem().string();
  const int n = ++seen[stem];
  return n == 1 ? stem : stem + "_" + std::to_string(n);
}

// Detects in one file and writes its crops and overlay; returns its CSV rows.
std::string process(const std::string& input, const fs::path& out_dir, const std::string& stem,
                    const DetectParams& params, bool crops, int& accepted) {
  const Image image = read_image(input);
  const DetectionResult result = detect_disks(image, params);
  const char* crop_ext = image.bit_depth > 8 ? ".tif" : ".png";
  accepted = 0;
  for (const Detection& d : result.detections) {
    if (!d.accepted) continue;
    ++accepted;
    if (crops)
      write_image((out_dir / (stem + "_disk" + std::to_string(d.id) + crop_ext)).string(), crop_image(image, d.crop));
  }
  write_png((out_dir / (stem + "_overlay.png")).string(), draw_overlay(image, result.detections, params));
  return detections_csv_rows(input, result.detections);
}

}  // namespace

int run_detect(int argc, char** argv) {
  const Args args(argc, argv,
                  {"-o", "--output", "--blur", "--block-size", "--c", "--open", "--close", "--min-area", "--max-area",
                   "--min-circularity", "--margin", "--min-crop", "--split-solidity", "--split-saddle",
                   "--window-max"},
                  {"--invert", "--no-crops", "--classical"});
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const std::string output = args.output();
  if (args.positional().empty() || output.empty()) {
    std::fputs("microsr detect: needs INPUT... and -o DIR (see --help)\n", stderr);
    return 2;
  }
  DetectParams params;
  try {
    params = params_from(args);
  } catch (const Error& e) {
    std::fprintf(stderr, "microsr detect: %s\n", e.what());
    return 2;
  }
  const fs::path out_dir(output);
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  require(fs::is_directory(out_dir), "cannot create the output folder " + output +
                                         (ec ? ": " + ec.message() : std::string(" (a file has that name)")));

  std::string csv = detections_csv_header();
  std::map<std::string, int> seen;
  std::vector<std::string> failed;
  for (const std::string& input : args.positional()) {
    try {
      int accepted = 0;
      csv += process(input, out_dir, unique_stem(input, seen), params, !args.has("--no-crops"), accepted);
      std::printf("%s: %d disk%s\n", input.c_str(), accepted, accepted == 1 ? "" : "s");
    } catch (const Error& e) {
      std::fprintf(stderr, "microsr detect: %s: %s\n", input.c_str(), e.what());
      failed.push_back(input);
    }
  }
  io::write_text_atomically((out_dir / "detections.csv").string(), csv);
  if (!failed.empty()) {
    std::fprintf(stderr, "microsr detect: %zu of %zu inputs failed:\n", failed.size(), args.positional().size());
    for (const std::string& f : failed) std::fprintf(stderr, "  %s\n", f.c_str());
    return 1;
  }
  return 0;
}

}  // namespace microsr::cli
