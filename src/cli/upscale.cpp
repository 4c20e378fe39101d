// microsr upscale INPUT... -o OUTPUT: the command lab users run most.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "args.h"
#include "background_write.h"
#include "image_walk.h"
#include "input_failure.h"
#include "interrupts.h"
#include "microsr/upscale.h"
#include "progress.h"
#include "shard.h"
#include "subcommands.h"
#include "upscale_jobs.h"

namespace microsr::cli {
namespace fs = std::filesystem;

namespace {

const CommandSpec kSpec{
    "upscale",
    "INPUT... -o OUTPUT [options]",
    R"(Upscales images ×4 with RealESRGAN_x4plus (or another RRDBNet model). INPUT: image files (PNG,
JPEG, BMP, TIFF 8/16-bit; gray, gray+alpha, RGB, RGBA) or folders, searched recursively. OUTPUT: a
file (for one input file, with a .png/.tif name) or a folder, where each output keeps its input's
name (+ --suffix) and subfolder. Existing outputs are skipped unless --overwrite; outputs are
written atomically, so an interrupted run never leaves a truncated image behind.
)",
    {
        text("--output", "PATH", "", "output file (.png, .tif, .tiff) or folder (required)").short_name("-o"),
        text("--model", "FILE", "", ".pth, .safetensors or ncnn .param/.bin")
            .default_is("the fetched RealESRGAN_x4plus"),
        choice("--weights", {"params", "params_ema"}, "",
               "which weights of a .pth holding both (as finetune writes): the trained\n"
               "weights, or their moving average")
            .default_is("params_ema when present, as Real-ESRGAN"),
        integer("--tile", "N|auto", "auto",
                "tile size in input pixels; 0 = whole image; auto = the largest\n"
                "that fits in free memory, halved and retried on an out-of-memory error")
            .at_least(0)
            .or_words({"auto"}),
        integer("--tile-pad", "N", "10", "context pixels around each tile").at_least(0),
        integer("--pre-pad", "N", "0", "reflect padding at the bottom/right before tiling").at_least(0),
        choice("--tile-mode", {"blend", "realesrgan"}, "blend",
               "blend: seams cross-faded; realesrgan: Real-ESRGAN's own crop-and-paste,\n"
               "identical to its output with the same settings"),
        integer("--blend-width", "N", "", "blend mode: cross-fade half-width in pixels")
            .at_least(0)
            .default_is("tile-pad / 2"),
        number("--outscale", "S", "0",
               "final size factor; other factors than the model's resize the network\n"
               "output with Lanczos-4, as Real-ESRGAN does; 0 = the model's scale")
            .at_least(0)
            .at_most(16),
        choice("--alpha", {"network", "bicubic"}, "network", "how alpha is upscaled"),
        choice("--format", {"png", "tif", "tiff", "same"}, "same",
               "output format; same: TIFF stays TIFF, JPEG/BMP/PNG become PNG, and 16-bit\n"
               "PNG becomes 16-bit TIFF. PNG output is always 8-bit"),
        choice("--bit-depth", {"8", "16"}, "",
               "the output's bit depth; 16 needs TIFF output (with --format same,\n"
               "a PNG that would get 16 bits becomes TIFF)")
            .default_is("the input's"),
        text("--suffix", "STR", "", "appended to each output name").default_is("none"),
        flag("--overwrite", "replace existing outputs"),
        device_option("auto"),
        precision_option(),
        conv_option(),
        cuda_graphs_option(),
        threads_option(),
        shard_option(),
        integer("--batch", "N|auto", "1",
                "tiles per forward pass (helps on GPUs with small tiles);\n"
                "auto = as many as fit the free device memory (1 on the CPU)")
            .at_least(1)
            .or_words({"auto"}),
    },
    ""};

struct Interrupted {};  // not an Error: it must pass through the tiler's out-of-memory retry

TileOptions tile_options(const Args& args, const RRDBNetConfig& cfg, const Backend& backend, Precision precision) {
  TileOptions t;
  t.tile_pad = args.get_int("--tile-pad");
  t.pre_pad = args.get_int("--pre-pad");
  const bool auto_batch = args.get("--batch") == "auto";
  t.batch = auto_batch ? 1 : args.get_int("--batch");
  t.mode = parse_tile_mode(args.get("--tile-mode"));
  t.blend_width = args.has("--blend-width") ? args.get_int("--blend-width") : -1;  // -1: tile-pad / 2
  if (args.get("--tile") == "auto") {
    // CPU: half of the free host memory (room for the image and the rest of the system);
    // CUDA: most of the free device memory.
    t.tile = auto_tile_for(backend, cfg, t.tile_pad, precision);
  } else {
    t.tile = args.get_int("--tile");
  }
  if (auto_batch) t.batch = auto_batch_for(backend, cfg, t.tile, t.tile_pad, precision);
  return t;
}

}  // namespace

int run_upscale(int argc, char** argv) {
  const Args args(argc, argv, kSpec);
  if (args.help()) {
    std::fputs(help_text(kSpec).c_str(), stdout);
    return 0;
  }
  const std::string output = args.output();
  if (args.positional().empty() || output.empty()) {
    std::fputs("microsr upscale: needs INPUT... and -o OUTPUT (see --help)\n", stderr);
    return 2;
  }

  // Plan first: the user sees every job and every unusable input before the long work starts.
  PlanOptions plan_opt;
  plan_opt.format = args.get("--format");
  if (plan_opt.format == "tiff") plan_opt.format = "tif";
  const int bit_depth = args.has("--bit-depth") ? args.get_int("--bit-depth") : 0;  // 0: the input's
  require_usage(!(bit_depth == 16 && plan_opt.format == "png"), "--bit-depth 16 needs TIFF output: use --format tif");
  plan_opt.suffix = args.get("--suffix");
  UpscalePlan plan = plan_upscale(args.positional(), output, plan_opt);
  const Shard shard = shard_from(args);
  if (shard.count > 1) {  // this process's part of a cluster run: the others write the rest
    std::erase_if(plan.jobs, [&](const UpscaleJob& job) { return !shard.owns(job.input); });
    std::fprintf(stderr, "shard %s: %zu image(s) of this shard\n", shard.describe().c_str(), plan.jobs.size());
  }
  for (const auto& n : plan.notes) std::fprintf(stderr, "leaving out %s\n", n.c_str());
  for (const auto& p : plan.problems) std::fprintf(stderr, "skipping %s\n", p.c_str());
  if (plan.jobs.empty() && shard.count > 1) return plan.problems.empty() ? 0 : 1;  // a shard may own none
  if (plan.jobs.empty()) throw Error("nothing to upscale");

  const DeviceChoice device = device_choice_from(args);
  auto backend = make_backend(device);
  const std::string model = args.has("--model") ? args.get("--model") : default_model_path();
  // The file's tensors are copied into the network's arena; drop them as soon as it is built.
  const auto net_ptr = [&] {
    const StateDict weights = load_rrdbnet_weights(model, args.get("--weights"));
    return std::make_unique<RRDBNet>(infer_rrdbnet_config(weights), weights, *backend);
  }();
  RRDBNet& net = *net_ptr;

  UpscaleOptions opt;
  opt.tiles = tile_options(args, net.config(), *backend, parse_precision(device.precision));
  opt.outscale = args.get_double("--outscale");
  opt.alpha = args.get("--alpha") == "network" ? AlphaUpscale::network : AlphaUpscale::bicubic;
  const std::string weights_group = args.has("--weights") ? " [" + args.get("--weights") + "]" : "";
  std::fprintf(stderr, "model %s%s: %s\nbackend %s; tile %s, pad %d, mode %s; %zu image(s)\n", model.c_str(),
               weights_group.c_str(), net.config().describe().c_str(), backend->name().c_str(),
               opt.tiles.tile ? std::to_string(opt.tiles.tile).c_str() : "whole image", opt.tiles.tile_pad,
               tile_mode_name(opt.tiles.mode), plan.jobs.size());

  Progress progress(int(plan.jobs.size()));
  opt.tiles.on_tile = [&](int done, int total) {
    if (InterruptGuard::requested()) throw Interrupted{};
    progress.tile_done(done, total);
  };
  opt.tiles.on_retry = [&](int next) { progress.note("out of memory; retrying with tile " + std::to_string(next)); };
  InterruptGuard interrupts;  // the first Ctrl-C stops after the current tile, a second at once

  std::vector<std::string> failures;
  int done = 0, skipped = 0;
  // Where the time goes, summed over the images: reading and decoding, the network (tiling and
  // transfers included), encoding and writing. Writing runs on its own thread beside the next
  // image's network pass (one file in flight), so "waited" is the part of it the next image had
  // to wait for. Printed at the end, so a user (and tools/gpu_check.sh) can see whether the
  // network or the image files are the bottleneck. The first image's network time is given apart:
  // it pays for what a backend sets up once per shape (on CUDA: cuDNN's plans, compiled and timed
  // at their first use, then the CUDA graph's recording), which later images of that size reuse.
  using Clock = std::chrono::steady_clock;
  const auto seconds_since = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  double read_s = 0, network_s = 0, write_s = 0, waited_s = 0, first_network_s = 0;
  int network_passes = 0;  // images that went through the network
  const Clock::time_point run_start = Clock::now();
  std::optional<BackgroundWrite> writing;
  const auto record_failure = [&](const std::string& input, const std::string& why) {
    progress.note(input + ": error: " + why);
    failures.push_back(input + ": " + why);
  };
  const auto finish_write = [&] {  // waits for the file in flight, if any, and reports it
    if (!writing) return;
    const Clock::time_point t = Clock::now();
    try {
      write_s += writing->wait();
      std::printf("%s\n", writing->message().c_str());
      std::fflush(stdout);
      ++done;
    } catch (...) {
      record_failure(writing->input(), input_failure_text());
    }
    waited_s += seconds_since(t);
    writing.reset();
  };
  try {
    for (std::size_t i = 0; i < plan.jobs.size(); ++i) {
      const auto& job = plan.jobs[i];
      if (fs::exists(job.output) && !args.has("--overwrite")) {
        progress.note("[" + std::to_string(i + 1) + "/" + std::to_string(plan.jobs.size()) + "] " + job.output +
                      " exists, skipped (--overwrite replaces it)");
        ++skipped;
        continue;
      }
      progress.start_image(int(i + 1), fs::path(job.input).filename().string());
      try {
        Clock::time_point t = Clock::now();
        const Image in = read_image(job.input);
        read_s += seconds_since(t);
        // PNG output is 8-bit: with --format same, a 16-bit PNG keeps its depth as a TIFF.
        const int depth = bit_depth ? bit_depth : in.bit_depth;
        fs::path target = job.output;
        if (plan_opt.format == "same" && depth == 16 && format_from_extension(target) == ImageFormat::png)
          target.replace_extension(".tif");
        require(!(depth == 16 && format_from_extension(target) == ImageFormat::png),
                "--bit-depth 16 needs a TIFF output, not " + target.string());
        t = Clock::now();
        Image out = upscale_image(net, *backend, in, opt);
        const double this_network_s = seconds_since(t);
        network_s += this_network_s;
        if (network_passes++ == 0) first_network_s = this_network_s;
        out.bit_depth = depth;
        create_output_folder(target.parent_path());
        finish_write();  // one file in flight: the memory of two outputs at most
        char message[64];
        std::snprintf(message, sizeof message, " (%d×%d -> %d×%d, %d-bit)", in.width, in.height, out.width, out.height,
                      out.bit_depth);
        writing.emplace(job.input, target.string(), std::move(out), job.input + " -> " + target.string() + message);
      } catch (...) {  // Interrupted is not the input's failure: it passes through to the catch below
        record_failure(job.input, input_failure_text());
      }
    }
    finish_write();
  } catch (const Interrupted&) {
    finish_write();  // the file already being written is completed, not abandoned
    progress.note("interrupted: " + std::to_string(done) +
                  " image(s) finished and complete; run the same command "
                  "again to continue (finished outputs are skipped)");
    return 130;
  }
  std::fprintf(stderr, "%d upscaled, %d skipped, %zu failed\n", done, skipped, failures.size() + plan.problems.size());
  if (done > 0) {
    const double total_s = seconds_since(run_start);
    char first[96] = "";
    if (network_passes > 1)
      std::snprintf(first, sizeof first, " (the first image %.2f s, then %.2f s an image)", first_network_s,
                    (network_s - first_network_s) / (network_passes - 1));
    std::fprintf(stderr,
                 "time: %.2f s for %d image(s), %.3f images/s; read %.2f s, network %.2f s%s, write %.2f s "
                 "(beside the network; waited for %.2f s)\n",
                 total_s, done, done / total_s, read_s, network_s, first, write_s, waited_s);
  }
  for (const auto& f : failures) std::fprintf(stderr, "  failed: %s\n", f.c_str());
  for (const auto& p : plan.problems) std::fprintf(stderr, "  not processed: %s\n", p.c_str());
  return failures.empty() && plan.problems.empty() ? 0 : 1;
}

}  // namespace microsr::cli
