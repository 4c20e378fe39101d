// microsr detect INPUT... -o DIR: finds microdisks and cuts them out (include/microsr/detect.h).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "args.h"
#include "image_walk.h"
#include "input_failure.h"
#include "io/file_bytes.h"
#include "microsr/detect.h"
#include "microsr/image_io.h"
#include "microsr/sam.h"
#include "shard.h"
#include "subcommands.h"

namespace microsr::cli {
namespace fs = std::filesystem;

namespace {

const DetectParams kDefaults;
const SamGateParams kGateDefaults;

// Types only: the ranges are validate(DetectParams)'s (the library's), checked before any work.
const CommandSpec kSpec{
    "detect",
    "INPUT... -o DIR [options]",
    R"(Finds microdisks in microscope images with the classical pipeline — gray, Gaussian blur, Gaussian
adaptive threshold, elliptical open/close, external contours, area and circularity 4πA/P² filters —
then cuts blobs of touching disks apart (distance transform peaks, watershed) and fits a circle to
each disk's edge (see docs/detection.md), and writes into DIR, per input <name>:
  <name>_disk<ID>.png|.tif  one crop per accepted disk, at the input's bit depth (16-bit: TIFF)
  <name>_overlay.png        accepted boxes in green (labelled with their ID), rejected in red
                            (S too small, L too large, C.xx not round: circularity 0.xx)
and, for all inputs together, detections.csv: one row per contour considered and per part cut
from a blob (parent: the blob's id; the blob's reason is "split"),
  file,id,cx,cy,radius,area,perimeter,circularity,x,y,w,h,accepted,reason,parent,
  mask_score,mask_area,mask_circularity,mask_iou,sam_used,sam_reason
(the six mask columns are empty without --sam).
With --sam ENCODER.onnx DECODER.onnx (or --sam FOLDER holding encoder.onnx and decoder.onnx, or
samexporter's <model>.encoder.onnx and <model>.decoder.onnx), a SAM or SAM2 export run by microsr's
own ONNX engine segments every accepted disk's box: the encoder once per image on the input the
model declares, the decoder once with all boxes (split only when the masks of a large image
would pass 512 MiB; once per box if its batch is fixed). A mask
replaces the box only when it passes the gate (score, centre shift, radius ratio, IoU with the
fitted circle); otherwise the classical result stays, and sam_reason says why. The overlay draws
the masks' outlines: cyan used, yellow not used.
An image without disks gives no crops and no CSV rows; that is not an error.
INPUT: image files (PNG, JPEG, BMP, TIFF; 8/16-bit; gray or RGB). 16-bit images are segmented on
their 8-bit reduction over their real range — the file's SMaxSampleValue, else the smallest bit
depth (8..16) that holds the brightest sample, so 12-bit camera data in a 16-bit file is not
nearly black — or over 0..--window-max; crops keep the original pixels.
)",
    {
        text("--output", "DIR", "", "output folder (created if missing; required)").short_name("-o"),
        integer("--blur", "K", default_text(kDefaults.blur), "Gaussian blur kernel size, odd; 1 = none"),
        integer("--block-size", "N", default_text(kDefaults.block_size),
                "adaptive threshold neighbourhood, odd, >= 3 (the default is wider\n"
                "than a disk, so that disks come out whole and not as rims)"),
        number("--c", "C", default_text(kDefaults.c),
               "foreground where pixel > local mean - C (the default: brighter than\n"
               "the surroundings by more than 2 grey levels)"),
        flag("--invert", "dark disks: foreground where pixel <= local mean - C"),
        integer("--open", "K", default_text(kDefaults.open), "elliptical opening kernel, odd; 1 = none"),
        integer("--close", "K", default_text(kDefaults.close), "elliptical closing kernel, odd; 1 = none"),
        number("--min-area", "A", default_text(kDefaults.min_area), "smallest accepted contour area, pixels^2"),
        number("--max-area", "A", default_text(kDefaults.max_area), "largest accepted contour area, pixels^2"),
        number("--min-circularity", "X", default_text(kDefaults.min_circularity),
               "accepted when circularity > X, in [0, 1]"),
        integer("--margin", "M", default_text(kDefaults.margin), "pixels added around each disk's box before cropping"),
        integer("--min-crop", "S", default_text(kDefaults.min_crop),
                "crops are at least S×S pixels, kept inside the image"),
        integer("--window-max", "N", default_text(kDefaults.window_max),
                "16-bit input: the sample value shown as white when reducing to 8 bits;\n"
                "0 = SMaxSampleValue, else the data's own bit depth"),
        flag("--classical",
             "stage 1 only: the seed's pipeline as OpenCV runs it (touching disks stay\n"
             "one blob; centre and radius from the outline, not fitted to the edge)"),
        number("--split-solidity", "S", default_text(kDefaults.split_solidity),
               "blobs with area / convex hull area below S are examined for touching\n"
               "disks, S in (0, 1] (a lone disk is convex: about 1)"),
        number("--split-saddle", "R", default_text(kDefaults.split_saddle),
               "two peaks of a blob's distance transform are separate disks when the ridge\n"
               "between them drops to R × the lower peak or less, R in (0, 1)"),
        flag("--no-crops", "write only detections.csv and the overlays"),
        text("--sam", "PATH", "",
             "SAM / SAM2 refinement: the encoder ONNX file (followed by the decoder's:\n"
             "--sam ENCODER.onnx DECODER.onnx), or a folder holding both"),
        text("--sam-decoder", "FILE", "", "the decoder ONNX file, when --sam names the encoder"),
        flag("--sam-masked-crops",
             "also write <name>_disk<ID>_masked.png|.tif: the crop with everything\n"
             "outside the disk's mask set to 0 (disks whose mask was used)"),
        number("--sam-min-score", "S", default_text(kGateDefaults.min_score),
               "a mask is used only when the model's predicted IoU is >= S"),
        number("--sam-max-shift", "F", default_text(kGateDefaults.max_centre_shift),
               "... and its centroid lies within F × the fitted radius of the fitted centre"),
        text("--sam-radius-ratio", "MIN,MAX", "0.8,1.25",
             "... and its equivalent radius / the fitted radius lies in [MIN, MAX]"),
        number("--sam-min-iou", "X", default_text(kGateDefaults.min_iou),
               "... and it overlaps the fitted disk with IoU >= X"),
        shard_option(),
    },
    ""};

DetectParams params_from(const Args& args) {
  DetectParams p;
  p.blur = args.get_int("--blur");
  p.block_size = args.get_int("--block-size");
  p.c = args.get_double("--c");
  p.invert = args.has("--invert");
  p.open = args.get_int("--open");
  p.close = args.get_int("--close");
  p.min_area = args.get_double("--min-area");
  p.max_area = args.get_double("--max-area");
  p.min_circularity = args.get_double("--min-circularity");
  p.margin = args.get_int("--margin");
  p.min_crop = args.get_int("--min-crop");
  p.window_max = args.get_int("--window-max");
  p.split = p.fit_circles = !args.has("--classical");
  p.split_solidity = args.get_double("--split-solidity");
  p.split_saddle = args.get_double("--split-saddle");
  validate(p);
  return p;
}

SamGateParams gate_from(const Args& args) {
  SamGateParams g;
  g.min_score = args.get_double("--sam-min-score");
  g.max_centre_shift = args.get_double("--sam-max-shift");
  g.min_iou = args.get_double("--sam-min-iou");
  const std::string ratio = args.get("--sam-radius-ratio");
  const std::size_t comma = ratio.find(',');
  try {
    require_usage(comma != std::string::npos, "");
    std::size_t used = 0;
    g.min_radius_ratio = std::stod(ratio.substr(0, comma), &used);
    require_usage(used == comma, "");
    g.max_radius_ratio = std::stod(ratio.substr(comma + 1), &used);
    require_usage(used == ratio.size() - comma - 1, "");
  } catch (...) {
    throw UsageError("--sam-radius-ratio wants MIN,MAX (e.g. 0.8,1.25), got \"" + ratio + "\"");
  }
  validate(g);
  return g;
}

// `--sam A B` with both ending in .onnx is `--sam A --sam-decoder B`: the decoder would otherwise
// be read as an input image.
std::vector<std::string> join_sam_pair(int argc, char** argv) {
  auto onnx = [](const std::string& s) { return s.size() > 5 && s.compare(s.size() - 5, 5, ".onnx") == 0; };
  std::vector<std::string> out(argv, argv + argc);
  for (std::size_t i = 0; i + 2 < out.size(); ++i)
    if (out[i] == "--sam" && onnx(out[i + 1]) && onnx(out[i + 2])) {
      out.insert(out.begin() + long(i) + 2, "--sam-decoder");
      break;
    }
  return out;
}

// The segmenter --sam asks for, or null.
std::unique_ptr<PromptSegmenter> segmenter_from(const Args& args) {
  std::string encoder = args.get("--sam"), decoder = args.get("--sam-decoder");
  if (encoder.empty()) {
    require_usage(decoder.empty(), "--sam-decoder needs --sam ENCODER.onnx");
    return nullptr;
  }
  if (decoder.empty()) {
    require_usage(fs::is_directory(encoder),
                  "--sam " + encoder +
                      ": give the encoder and the decoder (--sam ENCODER.onnx DECODER.onnx), "
                      "or a folder holding both");
    find_segmenter_files(encoder, encoder, decoder);
  }
  return load_onnx_segmenter(encoder, decoder, [](const std::string& line) { std::printf("%s\n", line.c_str()); });
}

// A file stem not used yet in this run ("a", then "a_2", "a_3"... for inputs with the same name).
std::string unique_stem(const fs::path& input, std::map<std::string, int>& seen) {
  const std::string stem = input.stem().string();
  const int n = ++seen[stem];
  return n == 1 ? stem : stem + "_" + std::to_string(n);
}

// Detects in one file and writes its crops and overlay; returns its CSV rows.
std::string process(const std::string& input, const fs::path& out_dir, const std::string& stem,
                    const DetectParams& params, bool crops, bool masked_crops, PromptSegmenter* segmenter,
                    const SamGateParams& gate, int& accepted, SamRefineCounts& sam) {
  const Image image = read_image(input);
  DetectionResult result = detect_disks(image, params);
  if (segmenter) sam = refine_with_segmenter(image, result, *segmenter, params, gate);
  const char* crop_ext = image.bit_depth > 8 ? ".tif" : ".png";
  accepted = 0;
  for (const Detection& d : result.detections) {
    if (!d.accepted) continue;
    ++accepted;
    if (crops)
      write_image((out_dir / (stem + "_disk" + std::to_string(d.id) + crop_ext)).string(), crop_image(image, d.crop));
    if (crops && masked_crops && d.mask.used())
      write_image((out_dir / (stem + "_disk" + std::to_string(d.id) + "_masked" + crop_ext)).string(),
                  masked_crop(image, d));
  }
  write_png((out_dir / (stem + "_overlay.png")).string(), draw_overlay(image, result.detections, params));
  return detections_csv_rows(input, result.detections);
}

}  // namespace

int run_detect(int argc, char** argv) {
  // Usage errors are reported here and return 2 (main() would map them to 2 as well).
  std::optional<Args> parsed;
  DetectParams params;
  SamGateParams gate;
  std::vector<std::string> words = join_sam_pair(argc, argv);
  std::vector<char*> joined;
  for (std::string& w : words) joined.push_back(w.data());
  try {
    parsed.emplace(int(joined.size()), joined.data(), kSpec);
    if (parsed->help()) {
      std::fputs(help_text(kSpec).c_str(), stdout);
      return 0;
    }
    params = params_from(*parsed);
    gate = gate_from(*parsed);
  } catch (const Error& e) {
    std::fprintf(stderr, "microsr detect: %s\n", e.what());
    return 2;
  }
  const Args& args = *parsed;
  const std::string output = args.output();
  if (args.positional().empty() || output.empty()) {
    std::fputs("microsr detect: needs INPUT... and -o DIR (see --help)\n", stderr);
    return 2;
  }
  std::unique_ptr<PromptSegmenter> segmenter;
  try {
    segmenter = segmenter_from(args);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "microsr detect: %s\n", e.what());
    return 2;
  } catch (const Error& e) {
    std::fprintf(stderr, "microsr detect: %s\n", e.what());
    return 1;
  }
  const fs::path out_dir(output);
  create_output_folder(out_dir);

  // Output names are chosen over all inputs, so that a shard names its files as a whole run would.
  const Shard shard = shard_from(args);
  std::map<std::string, int> seen;
  std::vector<std::pair<std::string, std::string>> mine;  // (input, output stem)
  for (const std::string& input : args.positional()) {
    const std::string stem = unique_stem(input, seen);
    if (shard.owns(input)) mine.emplace_back(input, stem);
  }
  // Shards share the output folder: each writes its own detections_shard_I_of_N.csv.
  const std::string csv_name = shard.count > 1 ? "detections_shard_" + std::to_string(shard.index) + "_of_" +
                                                     std::to_string(shard.count) + ".csv"
                                               : "detections.csv";

  std::string csv = detections_csv_header();
  std::vector<std::string> failed;
  for (const auto& [input, stem] : mine) {
    try {
      int accepted = 0;
      SamRefineCounts sam;
      csv += process(input, out_dir, stem, params, !args.has("--no-crops"), args.has("--sam-masked-crops"),
                     segmenter.get(), gate, accepted, sam);
      if (segmenter)
        std::printf("%s: %d disk%s, %d of %d masks used\n", input.c_str(), accepted, accepted == 1 ? "" : "s", sam.used,
                    sam.prompted);
      else
        std::printf("%s: %d disk%s\n", input.c_str(), accepted, accepted == 1 ? "" : "s");
      std::fflush(stdout);
    } catch (...) {
      std::fprintf(stderr, "microsr detect: %s: %s\n", input.c_str(), input_failure_text().c_str());
      failed.push_back(input);
    }
  }
  io::write_text_atomically((out_dir / csv_name).string(), csv);
  if (!failed.empty()) {
    std::fprintf(stderr, "microsr detect: %zu of %zu inputs failed:\n", failed.size(), mine.size());
    for (const std::string& f : failed) std::fprintf(stderr, "  %s\n", f.c_str());
    return 1;
  }
  return 0;
}

}  // namespace microsr::cli
