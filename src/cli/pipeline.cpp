// microsr pipeline --tenx DIR --fourx DIR -o RUN: the seed's whole job as one resumable command.
//
// Stages (each one of microsr's own commands, run in this process; RUN/stages/ remembers which
// finished with which inputs, pipeline_stages.h):
//   1 split       the 10X source images into train and evaluation sets (no crop of an evaluation
//                 image is ever trained on)
//   2 detect      microdisks in each set → RUN/detect/{train,eval}/
//   3 make-pairs  → RUN/pairs/{train,eval}/
//   4 finetune    from --init on the train pairs, validated on the eval pairs → RUN/finetune/
//   5 evaluate    pretrained against fine-tuned on the held-out 10X crops; bicubic, pretrained and
//                 fine-tuned on whole 4X images; the workflow study on 4X; truth and cross-mag
//                 when the frames are microsr synth's → RUN/evaluate/
//   6 upscale     every 4X image with the fine-tuned model → RUN/upscaled/
//   7 report      → RUN/report.html
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "args.h"
#include "device_choice.h"
#include "image_walk.h"
#include "interrupts.h"
#include "microsr/weights.h"
#include "pipeline_stages.h"
#include "subcommands.h"

namespace fs = std::filesystem;

namespace microsr::cli {

namespace {

struct Preset {
  const char* name;
  int epochs, batch, patch;
  const char* about;
};
// seed: the seed's recipe (for a GPU). demo: what 2 CPU cores finish in minutes — a short
// fine-tune that the report labels as such.
constexpr Preset kPresets[] = {
    {"seed", 50, 4, 128, "the seed's recipe: 50 epochs, batch 4, HR patches 128"},
    {"demo", 2, 4, 64, "a 2-epoch demonstration on small patches (HR 64): not the seed's 50 epochs"},
};

const CommandSpec kSpec{
    "pipeline",
    "--tenx DIR --fourx DIR -o RUN [options]",
    R"(The whole job in one command: split the 10X images into train and evaluation sets by source
image, detect microdisks, make (LR, HR) pairs, fine-tune RealESRGAN_x4plus, evaluate (pretrained
against fine-tuned on held-out 10X crops; bicubic against fine-tuned on whole 4X images; the
workflow study; truth and cross-magnification when the frames come from `microsr synth`),
upscale every 4X image with the fine-tuned model, and write RUN/report.html.
Rerunning the same command skips the stages whose inputs are unchanged and resumes the one that
was cut (Ctrl-C, a crash, kill -9). RUN/run.json records versions, arguments, and the time and
peak memory of each stage.
)",
    {
        text("--tenx", "DIR", "", "10X images (the fine-tuning and 10X evaluation data) (required)"),
        text("--fourx", "DIR", "", "4X images to evaluate on and upscale (required)"),
        text("--output", "RUN", "", "the run folder (required)").short_name("-o"),
        choice("--preset", {"seed", "demo"}, "seed",
               "seed: 50 epochs, batch 4, patch 128 (a GPU's job); demo: 2 epochs,\n"
               "patch 64 (minutes on a CPU)"),
        integer("--epochs", "N", "", "fine-tuning epochs").at_least(1).default_is("the preset's"),
        integer("--batch", "N", "", "pairs per iteration").at_least(1).default_is("the preset's"),
        integer("--patch", "N", "", "HR patch side").at_least(16).default_is("the preset's"),
        number("--eval-fraction", "F", "0.2", "the share of 10X source images held out for evaluation")
            .above(0)
            .below(1),
        text("--init", "MODEL", "", "the pretrained model").default_is("RealESRGAN_x4plus"),
        choice("--metrics", {"skimage", "basicsr"}, "skimage", "PSNR/SSIM convention"),
        integer("--seed", "N", "0", "fine-tuning's patch positions, order and flips").at_least(0),
        device_option("auto"),
        threads_option(),
    },
    R"(Files: RUN/split/{train,eval}.txt, RUN/detect/, RUN/pairs/, RUN/finetune/tuned.pth (+ logs and
checkpoint), RUN/evaluate/<study>/, RUN/upscaled/, RUN/report.html, RUN/run.json, RUN/stages/.
)"};

// Calls one of microsr's commands in this process, as `microsr NAME ARGS...` would.
int call(int (*command)(int, char**), const std::string& name, std::vector<std::string> args) {
  std::string line = "microsr " + name;
  for (const std::string& a : args) line += " " + a;
  std::fprintf(stderr, "$ %s\n", line.c_str());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return command(int(args.size()), argv.data());
}

std::vector<std::string> images_in(const std::string& dir, const std::string& role) {
  require(fs::is_directory(dir), role + " " + dir + ": not a folder");
  std::vector<std::string> problems, files;
  for (const fs::path& p : list_images(dir, "", problems)) {
    // synth's truth renders (NAME_truth4x.tif) are references, not images of the microscope
    if (p.stem().string().find("_truth") == std::string::npos) files.push_back(p.string());
  }
  require(problems.empty(), problems.empty() ? "" : problems.front());
  require(!files.empty(), role + " " + dir + ": no images");
  return files;
}

// Every k-th source image (sorted) goes to evaluation, k from the fraction; at least one each.
std::pair<std::vector<std::string>, std::vector<std::string>> split_sources(const std::vector<std::string>& sources,
                                                                            double eval_fraction) {
  std::vector<std::string> train, eval;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    const bool held_out = std::floor((i + 1) * eval_fraction) > std::floor(i * eval_fraction);
    (held_out ? eval : train).push_back(sources[i]);
  }
  if (eval.empty()) eval.push_back(train.back()), train.pop_back();
  require(!train.empty() && !eval.empty(),
          "the 10X folder needs at least two images (one to train on, one to "
          "evaluate on); it has " +
              std::to_string(sources.size()));
  return {train, eval};
}

void write_lines(const fs::path& path, const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& l : lines) text += l + "\n";
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& i : items) out += i + "\n";
  return out;
}

}  // namespace

int run_pipeline(int argc, char** argv) {
  const Args args(argc, argv, kSpec);
  if (args.help()) {
    std::fputs(help_text(kSpec).c_str(), stdout);
    return 0;
  }
  const std::string tenx = args.get("--tenx"), fourx = args.get("--fourx"), run_dir = args.output();
  require_usage(!tenx.empty() && !fourx.empty() && !run_dir.empty(), "--tenx DIR, --fourx DIR and -o RUN are required");
  const Preset& preset = args.get("--preset") == "demo" ? kPresets[1] : kPresets[0];
  const int epochs = args.has("--epochs") ? args.get_int("--epochs") : preset.epochs;
  const int batch = args.has("--batch") ? args.get_int("--batch") : preset.batch;
  const int patch = args.has("--patch") ? args.get_int("--patch") : preset.patch;
  const std::string init = args.has("--init") ? args.get("--init") : default_model_path();
  const std::vector<std::string> tenx_images = images_in(tenx, "--tenx");
  const std::vector<std::string> fourx_images = images_in(fourx, "--fourx");
  create_output_folder(run_dir);

  std::vector<std::string> arguments(argv, argv + argc);
  PipelineRun run(run_dir, arguments, 7);
  run.note("preset", preset.name);
  run.note("epochs", std::to_string(epochs));
  run.note("init", init);
  const fs::path R(run_dir);
  const std::string device = args.get("--device"), threads = args.get("--threads");
  const std::vector<std::string> device_args = {"--device", device, "--threads", threads};
  auto with_device = [&](std::vector<std::string> a) {
    a.insert(a.end(), device_args.begin(), device_args.end());
    return a;
  };
  int status = 0;
  auto go_on = [&](int s) { return (status = s) == 0 && !InterruptGuard::requested(); };

  // 1. split
  const auto [train_sources, eval_sources] = split_sources(tenx_images, args.get_double("--eval-fraction"));
  if (!go_on(run.stage("split", (R / "split").string(),
                       content_hash({}, joined(tenx_images) + args.get("--eval-fraction")), [&] {
                         write_lines(R / "split" / "train.txt", train_sources);
                         write_lines(R / "split" / "eval.txt", eval_sources);
                         std::fprintf(stderr, "%zu train and %zu evaluation source image(s)\n", train_sources.size(),
                                      eval_sources.size());
                         return 0;
                       })))
    return status;

  // 2. detect
  if (!go_on(run.stage("detect", (R / "detect").string(), content_hash(tenx_images, "detect defaults"), [&] {
        for (const auto& [set, sources] : {std::pair{"train", train_sources}, std::pair{"eval", eval_sources}}) {
          std::vector<std::string> a = sources;
          a.insert(a.end(), {"-o", (R / "detect" / set).string()});
          if (const int s = call(run_detect, "detect", a); s != 0) return s;
        }
        return 0;
      })))
    return status;

  // 3. make-pairs
  if (!go_on(run.stage("make-pairs", (R / "pairs").string(), content_hash({(R / "detect").string()}, "σ 0.5 ×4"), [&] {
        for (const char* set : {"train", "eval"})
          if (const int s = call(run_make_pairs, "make-pairs",
                                 {(R / "detect" / set).string(), "-o", (R / "pairs" / set).string()});
              s != 0)
            return s;
        return 0;
      })))
    return status;

  // 4. finetune
  const std::string tuned = (R / "finetune" / "tuned.pth").string();
  const std::string finetune_settings = "epochs " + std::to_string(epochs) + " batch " + std::to_string(batch) +
                                        " patch " + std::to_string(patch) + " seed " + args.get("--seed");
  if (!go_on(run.stage("finetune", (R / "finetune").string(),
                       content_hash({(R / "pairs").string(), init}, finetune_settings), [&] {
                         std::vector<std::string> a = {"--pairs",  (R / "pairs" / "train").string(),
                                                       "--val",    (R / "pairs" / "eval").string(),
                                                       "-o",       tuned,
                                                       "--init",   init,
                                                       "--epochs", std::to_string(epochs),
                                                       "--batch",  std::to_string(batch),
                                                       "--patch",  std::to_string(patch),
                                                       "--seed",   args.get("--seed")};
                         if (fs::exists(R / "finetune" / "tuned.ckpt.safetensors")) a.push_back("--resume");
                         return call(run_finetune, "finetune", with_device(a));
                       })))
    return status;

  // 5. evaluate
  const std::string models = "pretrained=" + init + ",fine-tuned=" + tuned;
  const std::string note = std::string("fine-tuned: ") + preset.about + " (" + std::to_string(epochs) +
                           " epochs); its params_ema weights evaluated";
  if (!go_on(run.stage(
          "evaluate", (R / "evaluate").string(),
          content_hash({(R / "pairs" / "eval").string(), tuned, init, fourx}, args.get("--metrics")), [&] {
            const std::string E = (R / "evaluate").string();
            auto evaluate = [&](std::vector<std::string> a) {
              a.insert(a.end(), {"--metrics", args.get("--metrics"), "--note", note});
              return call(run_evaluate, "evaluate", with_device(a));
            };
            if (int s = evaluate({"sr-pairs", "--pairs", (R / "pairs" / "eval").string(), "-o", E + "/sr_pairs_10x",
                                  "--models", models});
                s != 0)
              return s;
            std::vector<std::string> a = {"sr-pairs", "-o", E + "/sr_pairs_4x", "--models", models};
            a.insert(a.end(), fourx_images.begin(), fourx_images.end());
            if (int s = evaluate(a); s != 0) return s;
            a = {"workflow", "-o", E + "/workflow_4x", "--models", "fine-tuned=" + tuned};
            a.insert(a.end(), fourx_images.begin(), fourx_images.end());
            if (int s = evaluate(a); s != 0) return s;
            bool synthetic_truth = false, synthetic_pairs = false;
            for (const auto& e : fs::directory_iterator(fourx)) {
              const std::string name = e.path().filename().string();
              synthetic_truth |= name.ends_with("_4x_truth4x.tif");
              if (name.ends_with("_4x.tif"))
                synthetic_pairs |= fs::exists(fs::path(tenx) / (name.substr(0, name.size() - 7) + "_10x.tif"));
            }
            if (synthetic_truth)
              if (int s = evaluate({"truth", "--frames", fourx, "-o", E + "/truth_4x", "--models", models}); s != 0)
                return s;
            if (synthetic_pairs)
              if (int s = evaluate({"cross-mag", "--frames", fourx, "--tenx-frames", tenx, "-o", E + "/cross_mag",
                                    "--models", models});
                  s != 0)
                return s;
            return 0;
          })))
    return status;

  // 6. upscale
  if (!go_on(run.stage("upscale", (R / "upscaled").string(), content_hash({fourx, tuned}, "x4"), [&] {
        std::vector<std::string> a = fourx_images;
        a.insert(a.end(), {"-o", (R / "upscaled").string(), "--model", tuned});
        return call(run_upscale, "upscale", with_device(a));
      })))
    return status;

  // 7. report
  if (!go_on(run.stage("report", "",
                       content_hash({(R / "evaluate").string(), (R / "finetune" / "tuned.epochs.csv").string()}, ""),
                       [&] { return write_pipeline_report(run_dir); })))
    return status;
  std::fprintf(stderr, "\npipeline done: the report is %s\n", (R / "report.html").string().c_str());
  return 0;
}

}  // namespace microsr::cli
