// microsr make-pairs HR_DIR -o PAIRS_DIR: training pairs (HR, LR = blur + ÷scale) and their manifest.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "args.h"
#include "image_walk.h"
#include "input_failure.h"
#include "interrupts.h"
#include "microsr/pairs.h"
#include "progress.h"
#include "subcommands.h"

namespace microsr::cli {
namespace fs = std::filesystem;

namespace {

const PairRecipe kDefaults;

const CommandSpec kSpec{
    "make-pairs",
    "HR_DIR -o PAIRS_DIR [options]",
    R"(Makes training pairs from high-resolution crops (e.g. those `microsr detect` writes). For each
image in HR_DIR (searched recursively; PNG, JPEG, BMP, TIFF; 8/16-bit; gray or RGB, alpha dropped):
  1. HR: a crop shorter than --min-size (rounded up to a multiple of --scale) on either side is
     enlarged with the chosen bicubic, keeping its aspect ratio (the shorter side becomes that
     size, the other round(side · factor)); then the right and bottom edges are cut so both sides
     are multiples of --scale (mod-crop).
  2. LR, by default (blur-then-resize): Gaussian blur of the HR with σ = --blur-sigma (exactly
     cv2.GaussianBlur(img, (0,0), σ): kernel round(8σ+1)|1 taps, reflect-101 border), then bicubic
     reduction ÷scale. resize-then-blur reduces first and blurs the LR with the same σ.
     --resize matlab (default): MATLAB imresize 'bicubic' as BasicSR computes it (Keys a = -0.5,
     antialiased: the kernel is stretched ×scale when shrinking, symmetric border).
     --resize opencv: cv2.resize INTER_CUBIC (Keys a = -0.75, no antialiasing, replicated border).
It writes PAIRS_DIR/hr/NAME.ext and PAIRS_DIR/lr/NAME.ext (NAME: the path below HR_DIR without
extension, '/' -> '_'; ext: .tif for 16-bit or TIFF inputs, which keep their bit depth, else .png)
and PAIRS_DIR/manifest.csv, one row per pair:
  name,hr,lr,hr_width,hr_height,lr_width,lr_height,bit_depth,channels,source,sigma,scale,min_size,resize,order
Files named *_overlay.png (detect's drawings) are skipped. Outputs are written atomically; pairs
already in PAIRS_DIR are kept unless --overwrite. The output depends only on the inputs and options.
)",
    {
        text("--output", "DIR", "", "the pair folder (created if missing; required)").short_name("-o"),
        integer("--scale", "N", default_text(kDefaults.scale), "LR = HR ÷ N").at_least(1).at_most(16),
        number("--blur-sigma", "S", default_text(kDefaults.blur_sigma),
               "Gaussian σ in pixels of the image blurred; 0 = no blur")
            .at_least(0)
            .at_most(32),
        integer("--min-size", "N", default_text(kDefaults.min_size),
                "smallest HR side, in HR pixels (the default: LR 32 at ×4, the patch size)")
            .at_least(0)
            .at_most(16384),
        choice("--order", {"blur-then-resize", "resize-then-blur"}, degrade_order_name(kDefaults.order),
               "which comes first in making the LR"),
        choice("--resize", {"matlab", "opencv"}, pair_resize_name(kDefaults.resize),
               "the bicubic of the reduction and the enlargement"),
        integer("--seed", "N", "", "accepted for scripts that pass one; no step is random, so it changes nothing"),
        flag("--overwrite", "remake pairs that exist"),
    },
    ""};

struct Input {
  fs::path file;
  std::string name;
};

// The images below hr_dir in path order, each with a unique pair name.
std::vector<Input> list_inputs(const fs::path& hr_dir, const fs::path& out_dir, std::vector<std::string>& notes) {
  require(fs::is_directory(hr_dir), "HR_DIR " + hr_dir.string() + " does not exist or is not a folder");
  std::vector<std::string> problems;
  std::vector<fs::path> files;
  for (const fs::path& p : list_images(hr_dir, out_dir, problems)) {  // the walk every command shares
    if (p.stem().string().ends_with("_overlay")) {
      notes.push_back("skipping " + p.string() + " (a detection overlay, not a crop)");
      continue;
    }
    files.push_back(p);
  }
  for (const auto& p : problems) notes.push_back(p);
  std::vector<Input> inputs;
  std::map<std::string, int> seen;
  for (const fs::path& f : files) {
    std::string name = f.lexically_relative(hr_dir).replace_extension().generic_string();
    std::replace(name.begin(), name.end(), '/', '_');
    const int n = ++seen[name];
    if (n > 1) name += "_" + std::to_string(n);
    inputs.push_back({f, name});
  }
  require(!inputs.empty(), "no images in " + hr_dir.string() + " (expected png, jpg, bmp or tif files)");
  return inputs;
}

// The extension of an existing complete pair NAME in out_dir (".png" or ".tif"), if any.
std::optional<std::string> existing_pair(const fs::path& out_dir, const std::string& name) {
  for (const char* ext : {".png", ".tif"})
    if (fs::exists(out_dir / "hr" / (name + ext)) && fs::exists(out_dir / "lr" / (name + ext))) return ext;
  return std::nullopt;
}

ManifestRow row_of(const std::string& name, const std::string& ext, const Image& hr, const Image& lr,
                   const std::string& source, const PairRecipe& recipe) {
  ManifestRow r;
  r.name = name, r.hr = "hr/" + name + ext, r.lr = "lr/" + name + ext;
  r.hr_width = hr.width, r.hr_height = hr.height, r.lr_width = lr.width, r.lr_height = lr.height;
  r.bit_depth = hr.bit_depth, r.channels = hr.channels, r.source = source;
  r.sigma = recipe.blur_sigma, r.scale = recipe.scale, r.min_size = recipe.min_size;
  r.resize = pair_resize_name(recipe.resize), r.order = degrade_order_name(recipe.order);
  return r;
}

std::string sizes_of(const ManifestRow& r) {
  return "HR " + std::to_string(r.hr_width) + "×" + std::to_string(r.hr_height) + " -> LR " +
         std::to_string(r.lr_width) + "×" + std::to_string(r.lr_height) + ", " + std::to_string(r.bit_depth) + "-bit";
}

std::string number_text(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

bool same_recipe(const ManifestRow& r, const PairRecipe& recipe) {
  return r.sigma == recipe.blur_sigma && r.scale == recipe.scale && r.min_size == recipe.min_size &&
         r.resize == pair_resize_name(recipe.resize) && r.order == degrade_order_name(recipe.order);
}

// Makes (or, when it exists, describes) one pair; returns its manifest row.
ManifestRow make_pair(const Input& in, const fs::path& out_dir, const PairRecipe& recipe, bool overwrite,
                      const std::map<std::string, ManifestRow>& previous, bool& skipped) {
  skipped = false;
  if (const auto ext = existing_pair(out_dir, in.name); ext && !overwrite) {
    skipped = true;
    const auto old = previous.find(in.name);
    if (old != previous.end() && old->second.hr == "hr/" + in.name + *ext) return old->second;
    // Made by a run that stopped before writing the manifest: describe it from its files.
    return row_of(in.name, *ext, read_image((out_dir / "hr" / (in.name + *ext)).string()),
                  read_image((out_dir / "lr" / (in.name + *ext)).string()), in.file.string(), recipe);
  }
  const Image source = read_image(in.file.string());
  const Image hr = prepare_hr(source, recipe);
  const Image lr = degrade_to_lr(hr, recipe);
  const bool tiff = hr.bit_depth == 16 || detect_image_format(in.file.string()) == ImageFormat::tiff;
  const std::string ext = tiff ? ".tif" : ".png", stale = tiff ? ".png" : ".tif";
  write_image((out_dir / "hr" / (in.name + ext)).string(), hr, tiff ? ImageFormat::tiff : ImageFormat::png);
  write_image((out_dir / "lr" / (in.name + ext)).string(), lr, tiff ? ImageFormat::tiff : ImageFormat::png);
  for (const char* sub : {"hr", "lr"}) fs::remove(out_dir / sub / (in.name + stale));  // an older pair's other format
  return row_of(in.name, ext, hr, lr, in.file.string(), recipe);
}

PairRecipe recipe_from(const Args& args) {
  PairRecipe r;
  r.scale = args.get_int("--scale");
  r.blur_sigma = args.get_double("--blur-sigma");
  r.min_size = args.get_int("--min-size");
  r.order = parse_degrade_order(args.get("--order"));
  r.resize = parse_pair_resize(args.get("--resize"));
  validate(r);  // --seed: checked to be an integer by the table, otherwise unused (see --help)
  return r;
}

}  // namespace

int run_make_pairs(int argc, char** argv) {
  // Usage errors are reported here and return 2 (main() would map them to 2 as well).
  std::optional<Args> parsed;
  PairRecipe recipe;
  try {
    parsed.emplace(argc, argv, kSpec);
    if (parsed->help()) {
      std::fputs(help_text(kSpec).c_str(), stdout);
      return 0;
    }
    recipe = recipe_from(*parsed);
  } catch (const Error& e) {
    std::fprintf(stderr, "microsr make-pairs: %s\n", e.what());
    return 2;
  }
  const Args& args = *parsed;
  if (args.positional().size() != 1 || args.output().empty()) {
    std::fputs("microsr make-pairs: needs one HR_DIR and -o PAIRS_DIR (see --help)\n", stderr);
    return 2;
  }
  const fs::path hr_dir(args.positional()[0]), out_dir(args.output());
  const bool overwrite = args.has("--overwrite");
  std::vector<std::string> notes;
  const std::vector<Input> inputs = list_inputs(hr_dir, out_dir, notes);
  for (const char* sub : {"hr", "lr"}) create_output_folder(out_dir / sub);

  // Pairs kept from an earlier run must have been made the same way.
  std::map<std::string, ManifestRow> previous;
  const fs::path manifest = out_dir / "manifest.csv";
  if (fs::exists(manifest) && !overwrite)
    for (const ManifestRow& r : read_manifest(manifest.string())) {
      require(same_recipe(r, recipe), manifest.string() + " lists pairs made with --scale " + std::to_string(r.scale) +
                                          " --blur-sigma " + number_text(r.sigma) + " --min-size " +
                                          std::to_string(r.min_size) + " --resize " + r.resize + " --order " + r.order +
                                          "; use --overwrite to remake them all, or another -o folder");
      previous[r.name] = r;
    }

  Progress progress(int(inputs.size()));
  for (const std::string& n : notes) progress.note(n);
  std::vector<ManifestRow> rows;
  std::vector<std::string> failures;
  int made = 0, skipped = 0;
  std::optional<InterruptGuard> interrupts(std::in_place);  // Ctrl-C: stop after this pair; twice: at once
  for (std::size_t i = 0; i < inputs.size() && !InterruptGuard::requested(); ++i) {
    const Input& in = inputs[i];
    const std::string step = "[" + std::to_string(i + 1) + "/" + std::to_string(inputs.size()) + "] ";
    try {
      bool was_skipped = false;
      const ManifestRow row = make_pair(in, out_dir, recipe, overwrite, previous, was_skipped);
      rows.push_back(row);
      ++(was_skipped ? skipped : made);
      progress.note(step + in.name + (was_skipped ? ": exists, kept (--overwrite remakes it)" : ": " + sizes_of(row)));
    } catch (...) {  // the input's own failure: report it, go on with the next
      const std::string why = input_failure_text();
      progress.note(step + in.file.string() + ": error: " + why);
      failures.push_back(in.file.string() + ": " + why);
    }
  }
  interrupts.reset();
  write_manifest(manifest.string(), rows);  // also after an interruption: the finished pairs count
  if (InterruptGuard::requested()) {
    progress.note("interrupted: " + std::to_string(rows.size()) + " pair(s) complete and listed in " +
                  manifest.string() + "; run the same command again to continue");
    return 130;
  }
  std::fprintf(stderr, "%d pair(s) made, %d kept, %zu failed; manifest: %s\n", made, skipped, failures.size(),
               manifest.string().c_str());
  for (const std::string& f : failures) std::fprintf(stderr, "  failed: %s\n", f.c_str());
  return failures.empty() ? 0 : 1;
}

}  // namespace microsr::cli
