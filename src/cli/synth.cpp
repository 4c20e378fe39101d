// microsr synth -o DIR: synthetic microscope images of microdisk arrays, with ground-truth CSVs.
#include "microsr/synth.h"

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "args.h"
#include "image_walk.h"
#include "subcommands.h"

namespace microsr::cli {
namespace fs = std::filesystem;

namespace {

void check_seed(const std::string& text) {
  const bool digits = !text.empty() && text.size() <= 20 && text.find_first_not_of("0123456789") == std::string::npos;
  try {
    if (digits) {
      (void)std::stoull(text);
      return;
    }
  } catch (const std::out_of_range&) {
  }
  throw UsageError("option --seed expects a non-negative integer below 2^64, got '" + text + "'");
}

const CommandSpec kSpec{
    "synth",
    "-o DIR [options]",
    R"(Renders synthetic bright-field microscope images of microdisk arrays on a chip, each with a
ground-truth CSV (id, centre_x, centre_y, radius, kind, cut_by_border; pixels of that image; kind
is disk, dust, scratch or pad). A field is described physically (µm), so the same --seed and field
give the same chip area at 10x and 4x, and --truth-scale K renders it again at K× the pixel density
from the same continuous scene (the high-resolution truth for judging ×K super-resolution). Output
is deterministic: the same arguments give the same bytes. See docs/synthetic_images.md.
)",
    {
        text("--output", "DIR", "", "output folder (created if missing; required)").short_name("-o"),
        text("--mag", "10x|4x", "10x", "objective and camera: 10x = 0.5 µm/px, 2592×1944; 4x = 1.25 µm/px, 1600×1200")
            .checked_by([](const std::string& m) { parse_objective(m); }),
        integer("--count", "N", "1", "number of fields to render").at_least(1).at_most(100000),
        integer("--first", "F", "0", "index of the first field, at most 1000000 - count").at_least(0).at_most(999999),
        text("--seed", "S", "1", "chip seed, a non-negative integer").checked_by(check_seed),
        integer("--truth-scale", "K", "1", "also render each field at K× the pixel density; 1 = no truth")
            .at_least(1)
            .at_most(kMaxTruthScale),
        integer("--width", "W", "", "frame width in pixels at 1×")
            .at_least(1)
            .at_most(kMaxSynthSide)
            .default_is("the camera's"),
        integer("--height", "H", "", "frame height in pixels at 1×")
            .at_least(1)
            .at_most(kMaxSynthSide)
            .default_is("the camera's"),
        number("--psf-sigma", "UM", "",
               "in-focus blur σ in µm; the 4x optics leave little detail for ×4 SR to\n"
               "recover, a smaller σ makes a sharper scene (a per-field defocus of 0-0.6 µm\n"
               "is always added)")
            .default_is("the objective's, 10x 0.48, 4x 1.19"),
        flag("--no-noise", "leave out shot and read noise (the expected image)"),
        flag("--truth-noise", "add noise to the truth renders too (default: they are noise-free)"),
    },
    R"(files, for field F at magnification M: field_FFF_M.tif + .csv, and with K > 1 also
field_FFF_M_truthKx.tif + .csv.
)"};

std::string field_name(int field, const ObjectiveSpec& spec, int truth_scale) {
  char name[80];
  if (truth_scale == 1)
    std::snprintf(name, sizeof name, "field_%03d_%s", field, spec.name);
  else
    std::snprintf(name, sizeof name, "field_%03d_%s_truth%dx", field, spec.name, truth_scale);
  return name;
}

void render_and_write(const ChipScene& scene, const RenderOptions& options, const fs::path& dir) {
  const auto start = std::chrono::steady_clock::now();
  const SyntheticImage out = render_chip_scene(scene, options);
  const ObjectiveSpec& spec = objective_spec(options.objective);
  const fs::path base = dir / field_name(scene.field, spec, options.truth_scale);
  write_image(base.string() + ".tif", out.image, ImageFormat::tiff);
  write_truth_csv(base.string() + ".csv", out.truth);
  int disks = 0, cut = 0;
  for (const TruthRow& r : out.truth)
    if (r.kind == FeatureKind::disk) ++disks, cut += r.cut_by_border;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s.tif  %d×%d  %.4g µm/px  %d disks (%d cut by the border), %zu distractors  %.2f s\n",
              base.string().c_str(), out.image.width, out.image.height, out.um_per_pixel, disks, cut,
              out.truth.size() - disks, seconds);
}

}  // namespace

int run_synth(int argc, char** argv) {
  const Args args(argc, argv, kSpec);
  if (args.help()) {
    std::fputs(help_text(kSpec).c_str(), stdout);
    return 0;
  }
  require_usage(args.positional().empty(), "unexpected argument '" +
                                               (args.positional().empty() ? "" : args.positional()[0]) +
                                               "' (microsr synth takes only options; see --help)");
  const std::string dir = args.output();
  require_usage(!dir.empty(), "missing -o DIR: the folder to write the images into (see --help)");

  RenderOptions options;
  options.objective = parse_objective(args.get("--mag"));
  const ObjectiveSpec& spec = objective_spec(options.objective);
  options.width = args.has("--width") ? args.get_int("--width") : spec.width;
  options.height = args.has("--height") ? args.get_int("--height") : spec.height;
  require_usage(options.width >= 8 && options.height >= 8, "frames smaller than 8×8 pixels show nothing useful; got " +
                                                               std::to_string(options.width) + "×" +
                                                               std::to_string(options.height));
  const int count = args.get_int("--count");
  const int first = args.get_int("--first");
  require_usage(first <= 1000000 - count,
                "option --first must be in 0..(1000000 - count), got " + std::to_string(first));
  const int truth_scale = args.get_int("--truth-scale");
  const int64_t truth_pixels = int64_t(options.width) * truth_scale * int64_t(options.height) * truth_scale;
  require_usage(truth_pixels <= kMaxSynthPixels, "a " + std::to_string(options.width * truth_scale) + "×" +
                                                     std::to_string(options.height * truth_scale) +
                                                     " truth render exceeds " + std::to_string(kMaxSynthPixels) +
                                                     " pixels: lower --truth-scale or the size");
  const uint64_t seed = std::stoull(args.get("--seed"));
  const bool noise = !args.has("--no-noise");
  options.psf_sigma_um = args.has("--psf-sigma") ? args.get_double("--psf-sigma") : 0;  // 0: the objective's
  require_usage(options.psf_sigma_um > 0 || !args.has("--psf-sigma"),
                "option --psf-sigma must be a positive number of µm");
  require_usage(options.psf_sigma_um <= kMaxPsfSigmaUm,
                "option --psf-sigma must be at most " + std::to_string(int(kMaxPsfSigmaUm)) + " µm");

  create_output_folder(dir);
  for (int field = first; field < first + count; ++field) {
    const ChipScene scene = make_chip_scene(seed, field);
    options.truth_scale = 1;
    options.noise = noise;
    render_and_write(scene, options, dir);
    if (truth_scale > 1) {
      options.truth_scale = truth_scale;
      options.noise = noise && args.has("--truth-noise");
      render_and_write(scene, options, dir);
    }
  }
  return 0;
}

}  // namespace microsr::cli
