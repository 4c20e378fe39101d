// microsr evaluate STUDY -o DIR: the seed's studies, with intervals (docs/evaluation.md).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>

#include "args.h"
#include "device_choice.h"
#include "image_walk.h"
#include "interrupts.h"
#include "microsr/detect.h"
#include "microsr/evaluate.h"
#include "microsr/pairs.h"
#include "microsr/synth.h"
#include "microsr/weights.h"
#include "shard.h"
#include "subcommands.h"

namespace fs = std::filesystem;

namespace microsr::cli {

namespace {

const CommandSpec kSpec{
    "evaluate",
    "STUDY [IMAGE...] -o DIR [options]   (STUDY: sr-pairs, workflow, truth, cross-mag, merge)",
    R"(Runs one study and writes DIR/detailed_metrics.csv (one row per image and method) and
DIR/summary.json (mean, median and 95% bootstrap interval per method; paired comparisons: which
method wins and how sure), plus comparison grids in DIR/grids/. `microsr report` shows them.
  sr-pairs   --pairs DIR (make-pairs' HR/LR) or --hr PATH (images degraded as make-pairs does):
             bicubic and each model against HR, PSNR/SSIM
  workflow   --images PATH (LR images, e.g. 4X): disks detected, then Method 1 (upscale the whole
             image, crop) against Method 2 (crop, upscale; with and without --context)
  truth      --frames DIR (microsr synth with --truth-scale 4): SR of each frame against its
             truth render
  cross-mag  --frames DIR (synth 4x and 10x of the same fields): SR of the 4X frame on the 10X
             pixel grid against the 10X frame
  merge      DIR... (shards of one study, see --shard): one study folder
)",
    {
        text("--output", "DIR", "", "the study folder (required)").short_name("-o"),
        text("--models", "LIST", "", "LABEL=FILE,... (or FILE: labelled by its name); may be repeated")
            .repeats()
            .default_is("pretrained=RealESRGAN_x4plus"),
        choice("--weights", {"params", "params_ema"}, "", "which weights of a .pth holding both")
            .default_is("params_ema when present"),
        text("--pairs", "DIR", "", "sr-pairs: a pair folder made by make-pairs"),
        text("--hr", "PATH", "", "sr-pairs: HR images (files or a folder) to degrade and restore"),
        number("--blur-sigma", "S", "0.5", "sr-pairs --hr: the degradation's Gaussian σ (HR pixels)").at_least(0),
        text("--images", "PATH", "", "workflow: LR images (files or a folder)"),
        integer("--context", "N", "16", "workflow: LR pixels of context for method2_margin").at_least(0),
        text("--frames", "DIR", "", "truth, cross-mag: a folder written by microsr synth"),
        text("--tenx-frames", "DIR", "", "cross-mag: the 10x frames, when not in --frames"),
        choice("--metrics", {"skimage", "basicsr"}, "skimage",
               "PSNR/SSIM as scikit-image (RGB, no crop: the seed's) or as BasicSR\n"
               "(Y channel, crop_border = 4)"),
        integer("--grids", "N", "4", "comparison grids for the first N images").at_least(0),
        text("--note", "TEXT", "", "a sentence for the report (e.g. how the model was trained)"),
        shard_option(),
        device_option("auto"),
        threads_option(),
    },
    ""};

// --models: "LABEL=FILE,FILE,..." (a bare FILE is labelled with its stem); empty: the default model.
std::vector<std::pair<std::string, std::string>> parse_models(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> models;
  if (text.empty()) return {{"pretrained", default_model_path()}};
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    require_usage(!item.empty(), "--models has an empty entry: '" + text + "'");
    const std::size_t eq = item.find('=');
    const std::string label = eq == std::string::npos ? fs::path(item).stem().string() : item.substr(0, eq);
    const std::string file = eq == std::string::npos ? item : item.substr(eq + 1);
    require_usage(!label.empty() && !file.empty(), "--models: '" + item + "' is not LABEL=FILE");
    require_usage(label != "bicubic", "--models: 'bicubic' is the baseline's label; choose another");
    for (const auto& m : models) require_usage(m.first != label, "--models: the label '" + label + "' twice");
    models.emplace_back(label, file);
  }
  return models;
}

// The image files of PATH (a file, or a folder searched recursively), sorted.
std::vector<std::string> image_files(const std::string& path) {
  if (!fs::is_directory(path)) {
    require(fs::is_regular_file(path), path + ": no such file or folder");
    return {path};
  }
  std::vector<std::string> problems;
  std::vector<std::string> files;
  for (const fs::path& p : list_images(path, "", problems)) files.push_back(p.string());
  require(problems.empty(), problems.empty() ? "" : problems.front());
  return files;
}

// um per pixel from a TIFF's resolution tags (pixels per centimetre or inch).
double um_per_pixel(const Image& image, const std::string& name) {
  const ImageMetadata& m = image.metadata;
  require(m.has_resolution && m.x_resolution > 0 && m.resolution_unit != 1,
          name + ": no resolution tags, so its pixel size is unknown (cross-mag needs synth's frames)");
  return (m.resolution_unit == 3 ? 1e4 : 25400.0) / m.x_resolution;
}

struct Run {
  const Args& args;
  std::unique_ptr<Backend> backend;
  std::vector<std::unique_ptr<RRDBNet>> nets;
  std::vector<LabelledModel> models;
  Shard shard;
  StudyResult study;
  std::string out;

  explicit Run(const Args& a) : args(a), shard(shard_from(a)), out(a.output()) {}

  // The studies on synth's frames: --frames is required; returns it.
  std::string start_frames_study(const char* name, const char* title, const char* usage) {
    const std::string dir = args.get("--frames");
    require_usage(!dir.empty(), usage);
    study.study = name;
    study.title = title;
    study.settings.emplace_back("frames", dir);
    return dir;
  }

  // After a study has checked its options: the output folder, then the backend and the models.
  void load_models() {
    create_output_folder(out);
    DeviceChoice choice;
    choice.device = args.get("--device");
    choice.threads = args.get_int("--threads");
    backend = make_backend(choice);
    std::string listed;
    std::string listed_models;  // every --models value, as one comma list
    for (const std::string& value : args.get_all("--models"))
      listed_models += (listed_models.empty() ? "" : ",") + value;
    for (const auto& [label, file] : parse_models(listed_models)) {
      const StateDict weights = load_rrdbnet_weights(file, args.get("--weights"));
      nets.push_back(std::make_unique<RRDBNet>(infer_rrdbnet_config(weights), weights, *backend));
      require(nets.back()->config().scale == 4,
              file + ": a ×" + std::to_string(nets.back()->config().scale) + " model; the studies compare ×4 models");
      models.push_back({label, nets.back().get()});
      listed += (listed.empty() ? "" : "; ") + label + "=" + file;
    }
    study.settings.emplace_back("models", listed);
    if (args.has("--weights")) study.settings.emplace_back("weights", args.get("--weights"));
    study.settings.emplace_back("device", backend->name());
  }

  ReferenceStudyOptions reference_options() {
    ReferenceStudyOptions o;
    o.models = models;
    o.backend = backend.get();
    o.tiles.tile = -1;  // auto: what fits the backend's memory
    const MetricConvention convention = parse_metric_convention(args.get("--metrics"));
    o.metric = conventional_options(convention, 4);
    o.grids = args.get_int("--grids");
    o.progress = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
    o.stop_requested = [] { return InterruptGuard::requested(); };
    study.settings.emplace_back("metrics", convention_name(convention));
    return o;
  }

  // The items of this shard (all of them without --shard), by a stable partition of the names.
  template <class T>
  std::vector<T> mine(const std::vector<T>& items, const std::function<std::string(const T&)>& name_of) {
    std::vector<T> kept;
    for (const T& item : items)
      if (shard.owns(name_of(item))) kept.push_back(item);
    if (shard.count > 1) study.settings.emplace_back("shard", shard.describe());
    return kept;
  }
};

int sr_pairs(Run& run) {
  const Args& args = run.args;
  // HR images: --hr and any further arguments (files or folders).
  std::vector<std::string> hr_inputs(args.positional().begin() + 1, args.positional().end());
  if (args.has("--hr")) hr_inputs.insert(hr_inputs.begin(), args.get("--hr"));
  require_usage(args.has("--pairs") != !hr_inputs.empty(),
                "sr-pairs needs --pairs DIR or --hr PATH (one of them; HR images may also follow the study)");
  run.study.study = "sr_pairs";
  std::vector<std::pair<std::string, std::string>> files;  // (name, HR file) or (name, manifest row index)
  std::vector<ManifestRow> manifest;
  PairRecipe recipe;
  recipe.blur_sigma = args.get_double("--blur-sigma");
  recipe.min_size = recipe.scale;  // whole images: no enlargement
  if (args.has("--pairs")) {
    manifest = read_manifest((fs::path(args.get("--pairs")) / "manifest.csv").string());
    for (std::size_t i = 0; i < manifest.size(); ++i) files.emplace_back(manifest[i].name, std::to_string(i));
    run.study.title = "Super-resolution of held-out pairs (" + args.get("--pairs") + ")";
    run.study.settings.emplace_back("pairs", args.get("--pairs"));
  } else {
    for (const std::string& input : hr_inputs)
      for (const std::string& f : image_files(input)) files.emplace_back(fs::path(f).stem().string(), f);
    run.study.title =
        "Super-resolution of whole images: HR → LR (σ " + default_text(recipe.blur_sigma) + ", ÷4) → ×4, against HR";
    std::string listed;
    for (const std::string& input : hr_inputs) listed += (listed.empty() ? "" : " ") + input;
    run.study.settings.emplace_back("hr", listed);
    run.study.settings.emplace_back("degradation", "Gaussian σ " + default_text(recipe.blur_sigma) +
                                                       ", then ÷4 with MATLAB's bicubic (make-pairs' recipe)");
  }
  files = run.mine<std::pair<std::string, std::string>>(files, [](const auto& f) { return f.first; });
  require(!files.empty() || run.shard.count > 1, "sr-pairs: no images");
  run.load_models();
  const std::string pairs_dir = args.get("--pairs");
  auto load = [&](std::size_t i) {
    ReferenceItem item;
    item.name = files[i].first;
    if (!pairs_dir.empty()) {
      const ManifestRow& row = manifest[std::stoul(files[i].second)];
      item.reference = read_image((fs::path(pairs_dir) / row.hr).string());
      item.input = read_image((fs::path(pairs_dir) / row.lr).string());
    } else {
      item.reference = prepare_hr(read_image(files[i].second), recipe);
      item.input = degrade_to_lr(item.reference, recipe);
      for (float& v : item.input.pixels) v = std::clamp(v, 0.f, 1.f);
    }
    return item;
  };
  return run_reference_study(run.study, files.size(), load, run.reference_options(), run.out) ? 0 : 130;
}

// Synth's frames: field_FFF_M.tif, with field_FFF_M_truth4x.tif when rendered with --truth-scale 4.
std::vector<std::string> frames_matching(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> found;
  require(fs::is_directory(dir), "--frames " + dir + ": not a folder");
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.size() > suffix.size() && name.ends_with(suffix)) found.push_back(e.path().string());
  }
  std::sort(found.begin(), found.end());
  return found;
}

int truth(Run& run) {
  const std::string dir = run.start_frames_study("truth", "Super-resolution against the true high-resolution render",
                                                 "truth needs --frames DIR (microsr synth ... --truth-scale 4)");
  std::vector<std::string> truths = frames_matching(dir, "_truth4x.tif");
  truths = run.mine<std::string>(truths, [](const std::string& f) { return fs::path(f).filename().string(); });
  require(!truths.empty() || run.shard.count > 1, dir + ": no *_truth4x.tif frames (synth --truth-scale 4)");
  run.load_models();
  auto load = [&](std::size_t i) {
    const std::string truth_file = truths[i];
    const std::string frame = truth_file.substr(0, truth_file.size() - std::string("_truth4x.tif").size()) + ".tif";
    ReferenceItem item;
    item.name = fs::path(frame).stem().string();
    item.input = read_image(frame);
    item.reference = read_image(truth_file);
    return item;
  };
  return run_reference_study(run.study, truths.size(), load, run.reference_options(), run.out) ? 0 : 130;
}

int cross_mag(Run& run) {
  const std::string dir =
      run.start_frames_study("cross_mag", "4X ×4 on the 10X pixel grid, against the 10X image of the same field",
                             "cross-mag needs --frames DIR (microsr synth --mag 4x and --mag 10x, same fields)");
  std::vector<std::string> fourx;
  const std::string tenx_dir = run.args.has("--tenx-frames") ? run.args.get("--tenx-frames") : dir;
  auto tenx_of = [&](const std::string& fourx_file) {
    const std::string name = fs::path(fourx_file).filename().string();
    return (fs::path(tenx_dir) / (name.substr(0, name.size() - std::string("_4x.tif").size()) + "_10x.tif")).string();
  };
  for (const std::string& f : frames_matching(dir, "_4x.tif"))
    if (fs::exists(tenx_of(f))) fourx.push_back(f);
  fourx = run.mine<std::string>(fourx, [](const std::string& f) { return fs::path(f).filename().string(); });
  require(!fourx.empty() || run.shard.count > 1, dir + ": no field with both a _4x.tif and a _10x.tif frame");
  run.load_models();
  auto load = [&](std::size_t i) {
    ReferenceItem item;
    item.name = fs::path(fourx[i]).stem().string();
    item.input = read_image(fourx[i]);
    item.reference = read_image(tenx_of(fourx[i]));
    return item;
  };
  ReferenceStudyOptions o = run.reference_options();
  // Both frames are centred on the field: a pixel's left edge is at -width·size/2 + i·size µm.
  o.to_reference_grid = [](const Image& enlarged, const ReferenceItem& item) {
    const double input_um = um_per_pixel(item.input, item.name), tenx_um = um_per_pixel(item.reference, item.name);
    const double enlarged_um = input_um * item.input.width / enlarged.width;
    const double left_enlarged = -0.5 * item.input.width * input_um, top_enlarged = -0.5 * item.input.height * input_um;
    const double left_tenx = -0.5 * item.reference.width * tenx_um, top_tenx = -0.5 * item.reference.height * tenx_um;
    Image on_grid =
        resample_area(enlarged, (left_tenx - left_enlarged) / enlarged_um, (top_tenx - top_enlarged) / enlarged_um,
                      tenx_um / enlarged_um, item.reference.width, item.reference.height);
    return on_grid;
  };
  run.study.settings.emplace_back("resampling", "area-weighted onto the 10X grid (both frames centred on the field)");
  return run_reference_study(run.study, fourx.size(), load, o, run.out) ? 0 : 130;
}

int workflow(Run& run) {
  std::vector<std::string> inputs(run.args.positional().begin() + 1, run.args.positional().end());
  if (run.args.has("--images")) inputs.insert(inputs.begin(), run.args.get("--images"));
  require_usage(!inputs.empty(), "workflow needs --images PATH (the LR images, e.g. 4X; or as arguments)");
  std::string images;
  for (const std::string& input : inputs) images += (images.empty() ? "" : " ") + input;
  StudyResult header = workflow_study_header();
  header.settings = run.study.settings;
  run.study = header;
  run.study.settings.emplace_back("images", images);
  std::vector<std::string> files;
  for (const std::string& input : inputs)
    for (const std::string& f : image_files(input)) files.push_back(f);
  files = run.mine<std::string>(files, [](const std::string& f) { return fs::path(f).filename().string(); });
  require(!files.empty() || run.shard.count > 1, images + ": no images");
  run.load_models();
  require_usage(run.models.size() == 1, "workflow compares two ways of using one model: give one in --models");
  WorkflowOptions o;
  o.net = run.models.front().net;
  o.backend = run.backend.get();
  o.tiles.tile = -1;
  o.context = run.args.get_int("--context");
  o.grids = run.args.get_int("--grids");
  o.progress = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  o.stop_requested = [] { return InterruptGuard::requested(); };
  run.study.settings.emplace_back("context", std::to_string(o.context) + " LR pixels");
  const DetectParams detect;  // the defaults, as `microsr detect` without options
  run.study.settings.emplace_back(
      "boxes", "microsr detect's defaults; each disk's box grown by " + std::to_string(detect.margin) + " px");
  for (const std::string& file : files) {
    if (InterruptGuard::requested()) return 130;
    const Image lr = read_image(file);
    std::vector<std::pair<int, PixelBox>> boxes;
    for (const Detection& d : detect_disks(lr, detect).detections) {
      if (!d.accepted) continue;
      const Box b = crop_box(d.box, detect.margin, 0, lr.width, lr.height);
      boxes.push_back({d.id, {b.x, b.y, b.width, b.height}});
    }
    run_workflow_image(run.study, fs::path(file).stem().string(), lr, boxes, o, run.out);
  }
  return InterruptGuard::requested() ? 130 : 0;
}

int merge(const Args& args) {
  require_usage(!args.positional().empty() && args.positional().size() >= 2,
                "merge needs the shards' study folders: microsr evaluate merge -o DIR SHARD...");
  std::vector<StudyResult> shards;
  for (std::size_t i = 1; i < args.positional().size(); ++i) shards.push_back(read_study(args.positional()[i]));
  StudyResult merged = merge_studies(shards);
  // The grids stay where the shards wrote them: copy them beside the merged files.
  for (std::size_t i = 1; i < args.positional().size(); ++i) {
    const fs::path grids = fs::path(args.positional()[i]) / "grids";
    if (!fs::is_directory(grids)) continue;
    create_output_folder(fs::path(args.output()) / "grids");
    for (const auto& e : fs::directory_iterator(grids))
      fs::copy_file(e.path(), fs::path(args.output()) / "grids" / e.path().filename(),
                    fs::copy_options::overwrite_existing);
  }
  std::erase_if(merged.settings, [](const auto& kv) { return kv.first == "shard"; });
  merged.settings.emplace_back("merged", std::to_string(shards.size()) + " shards");
  write_study(args.output(), merged);
  std::fprintf(stderr, "merged %zu shard(s): %zu rows -> %s\n", shards.size(), merged.rows.size(),
               args.output().c_str());
  return 0;
}

}  // namespace

int run_evaluate(int argc, char** argv) {
  const Args args(argc, argv, kSpec);
  if (args.help()) {
    std::fputs(help_text(kSpec).c_str(), stdout);
    return 0;
  }
  require_usage(!args.positional().empty(), "which study? sr-pairs, workflow, truth, cross-mag or merge (see --help)");
  require_usage(!args.output().empty(), "-o DIR is required");
  const std::string which = args.positional().front();
  if (which == "merge") return merge(args);
  require_usage(args.positional().size() == 1 || which == "sr-pairs" || which == "workflow",
                "unexpected argument '" + args.positional().back() + "'");
  Run run(args);
  if (args.has("--note")) run.study.notes.push_back(args.get("--note"));
  InterruptGuard interrupts;  // Ctrl-C: stop after this image, keep what is measured; twice: at once
  int status = 0;
  if (which == "sr-pairs")
    status = sr_pairs(run);
  else if (which == "truth")
    status = truth(run);
  else if (which == "cross-mag")
    status = cross_mag(run);
  else if (which == "workflow")
    status = workflow(run);
  else
    throw UsageError("unknown study '" + which + "': sr-pairs, workflow, truth, cross-mag or merge");
  if (status == 130) run.study.notes.push_back("interrupted: the images measured before the interruption only");
  write_study(run.out, run.study);
  std::fprintf(stderr, "%zu measurement(s) -> %s/detailed_metrics.csv, summary.json\n", run.study.rows.size(),
               run.out.c_str());
  return status;
}

}  // namespace microsr::cli
