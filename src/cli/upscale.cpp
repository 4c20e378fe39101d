// microsr upscale INPUT... -o OUTPUT: the command lab users run most.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "args.h"
#include "background_write.h"
#include "interrupts.h"
#include "microsr/upscale.h"
#include "progress.h"
#include "subcommands.h"
#include "upscale_jobs.h"

namespace microsr::cli {
namespace fs = std::filesystem;

namespace {

constexpr const char* kHelp = R"(usage: microsr upscale INPUT... -o OUTPUT [options]

Upscales images ×4 with RealESRGAN_x4plus (or another RRDBNet model). INPUT: image files (PNG,
JPEG, BMP, TIFF 8/16-bit; gray, gray+alpha, RGB, RGBA) or folders, searched recursively. OUTPUT: a
file (for one input file, with a .png/.tif name) or a folder, where each output keeps its input's
name (+ --suffix) and subfolder. Existing outputs are skipped unless --overwrite; outputs are
written atomically, so an interrupted run never leaves a truncated image behind.

options:
  -o, --output PATH      output file or folder (required)
  --model FILE           .pth, .safetensors or ncnn .param/.bin (default: the fetched RealESRGAN_x4plus)
  --tile N|auto          tile size in input pixels; 0 = whole image; auto (default) = the largest
                         that fits in free memory, halved and retried on an out-of-memory error
  --tile-pad N           context pixels around each tile (default 10)
  --pre-pad N            reflect padding at the bottom/right before tiling (default 0)
  --tile-mode MODE       blend (default: seams cross-faded) or realesrgan (Real-ESRGAN's
                         own crop-and-paste, identical to its output with the same settings)
  --blend-width N        blend mode: cross-fade half-width in pixels (default: tile-pad / 2)
  --outscale S           final size factor (default: the model's scale); other factors resize the
                         network output with Lanczos-4, as Real-ESRGAN does
  --alpha MODE           how alpha is upscaled: network (default) or bicubic
  --format FMT           png, tif (or tiff), or same (default: TIFF stays TIFF, JPEG/BMP/PNG become
                         PNG, and 16-bit PNG becomes 16-bit TIFF). PNG output is always 8-bit
  --bit-depth N          8 or 16: the output's bit depth (default: the input's); 16 needs TIFF
                         output (with --format same, a PNG that would get 16 bits becomes TIFF)
  --suffix STR           appended to each output name (default: none)
  --overwrite            replace existing outputs
  --device DEV           auto (default: cuda when a CUDA device is present, else cpu), cpu, cuda or
                         cuda:N
  --precision P          fp32 (default) or fp16 (CUDA only: half-precision tensor cores; stops
                         with an error instead of writing a black image if fp16 overflows)
  --conv VARIANT         convolution variant (CUDA: legacy_find, legacy_heuristic, graph,
                         graph_fused; default: graph_fused in fp16, graph in fp32; CPU: see
                         microsr bench --help)
  --cuda-graphs on|off   CUDA: record the forward pass per tile shape as a CUDA graph and replay
                         it (default on; MICROSR_CUDA_GRAPHS=0 also turns it off)
  --threads N            CPU threads (default: all cores)
  --batch N|auto         tiles per forward pass (default 1; helps on GPUs with small tiles);
                         auto = as many as fit the free device memory (1 on the CPU)

exit status: 0 all done, 1 some inputs failed (listed at the end), 2 usage error, 130 interrupted.
)";

struct Interrupted {};  // not an Error: it must pass through the tiler's out-of-memory retry

TileOptions tile_options(const Args& args, const RRDBNetConfig& cfg, const Backend& backend, Precision precision) {
  TileOptions t;
  t.tile_pad = args.get_int("--tile-pad", 10);
  t.pre_pad = args.get_int("--pre-pad", 0);
  const bool auto_batch = args.get("--batch", "1") == "auto";
  t.batch = auto_batch ? 1 : args.get_int("--batch", 1);
  t.mode = parse_tile_mode(args.get("--tile-mode", "blend"));
  t.blend_width = args.get_int("--blend-width", -1);
  require(t.tile_pad >= 0 && t.pre_pad >= 0 && t.batch >= 1, "--tile-pad and --pre-pad must be ≥ 0, --batch ≥ 1 or auto");
  const std::string tile = args.get("--tile", "auto");
  if (tile == "auto") {
    // CPU: half of the free host memory (room for the image and the rest of the system);
    // CUDA: most of the free device memory.
    t.tile = auto_tile_for(backend, cfg, t.tile_pad, precision);
  } else {
    t.tile = args.get_int("--tile", 0);
    require(t.tile >= 0, "--tile must be ≥ 0 or auto");
  }
  if (auto_batch) t.batch = auto_batch_for(backend, cfg, t.tile, t.tile_pad, precision);
  return t;
}

}  // namespace

int run_upscale(int argc, char** argv) {
  Args args(argc, argv,
            {"-o", "--output", "--model", "--tile", "--tile-pad", "--pre-pad", "--tile-mode", "--blend-width", "--outscale", "--alpha",
             "--format", "--suffix", "--device", "--precision", "--threads", "--batch", "--bit-depth",
             "--conv", "--cuda-graphs"},
            {"--overwrite"});
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const std::string output = args.output();
  if (args.positional().empty() || output.empty()) {
    std::fputs("microsr upscale: needs INPUT... and -o OUTPUT (see --help)\n", stderr);
    return 2;
  }

  // Plan first: the user sees every job and every unusable input before the long work starts.
  PlanOptions plan_opt;
  plan_opt.format = args.get("--format", "same");
  if (plan_opt.format == "tiff") plan_opt.format = "tif";
  const int bit_depth = args.get_int("--bit-depth", 0);
  require(bit_depth == 0 || bit_depth == 8 || bit_depth == 16, "--bit-depth must be 8 or 16, got " + std::to_string(bit_depth));
  require(!(bit_depth == 16 && plan_opt.format == "png"), "--bit-depth 16 needs TIFF output: use --format tif");
  plan_opt.suffix = args.get("--suffix", "");
  const UpscalePlan plan = plan_upscale(args.positional(), output, plan_opt);
  for (const auto& n : plan.notes) std::fprintf(stderr, "leaving out %s\n", n.c_str());
  for (const auto& p : plan.problems) std::fprintf(stderr, "skipping %s\n", p.c_str());
  if (plan.jobs.empty()) throw Error("nothing to upscale");

  const DeviceChoice device = device_choice_from(args, "auto");
  auto backend = make_backend(device);
  const std::string model = args.has("--model") ? args.get("--model") : default_model_path();
  // The file's tensors are copied into the network's arena; drop them as soon as it is built.
  const auto net_ptr = [&] {
    const StateDict weights = load_rrdbnet_weights(model);
    return std::make_unique<RRDBNet>(infer_rrdbnet_config(weights), weights, *backend);
  }();
  RRDBNet& net = *net_ptr;

  UpscaleOptions opt;
  opt.tiles = tile_options(args, net.config(), *backend, parse_precision(device.precision));
  opt.outscale = args.get_double("--outscale", 0);
  require(opt.outscale >= 0 && opt.outscale <= 16, "--outscale must be between 0 and 16");
  const std::string alpha = args.get("--alpha", "network");
  require(alpha == "network" || alpha == "bicubic", "--alpha must be network or bicubic, got '" + alpha + "'");
  opt.alpha = alpha == "network" ? AlphaUpscale::network : AlphaUpscale::bicubic;
  std::fprintf(stderr, "model %s: %s\nbackend %s; tile %s, pad %d, mode %s; %zu image(s)\n", model.c_str(),
               net.config().describe().c_str(), backend->name().c_str(),
               opt.tiles.tile ? std::to_string(opt.tiles.tile).c_str() : "whole image", opt.tiles.tile_pad,
               tile_mode_name(opt.tiles.mode), plan.jobs.size());

  Progress progress(int(plan.jobs.size()));
  opt.tiles.on_tile = [&](int done, int total) {
    if (InterruptGuard::requested()) throw Interrupted{};
    progress.tile_done(done, total);
  };
  opt.tiles.on_retry = [&](int next) {
    progress.note("out of memory; retrying with tile " + std::to_string(next));
  };
  InterruptGuard interrupts;  // the first Ctrl-C stops after the current tile, a second at once

  std::vector<std::string> failures;
  int done = 0, skipped = 0;
  // Where the time goes, summed over the images: reading and decoding, the network (tiling and
  // transfers included), encoding and writing. Writing runs on its own thread beside the next
  // image's network pass (one file in flight), so "waited" is the part of it the next image had
  // to wait for. Printed at the end, so a user (and tools/gpu_check.sh) can see whether the
  // network or the image files are the bottleneck.
  using Clock = std::chrono::steady_clock;
  const auto seconds_since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
  double read_s = 0, network_s = 0, write_s = 0, waited_s = 0;
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
    } catch (const Error& e) {
      record_failure(writing->input(), e.what());
    } catch (const fs::filesystem_error& e) {
      record_failure(writing->input(), e.what());
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
        network_s += seconds_since(t);
        out.bit_depth = depth;
        if (!target.parent_path().empty()) fs::create_directories(target.parent_path());
        finish_write();  // one file in flight: the memory of two outputs at most
        char message[64];
        std::snprintf(message, sizeof message, " (%d×%d -> %d×%d, %d-bit)", in.width, in.height, out.width, out.height,
                      out.bit_depth);
        writing.emplace(job.input, target.string(), std::move(out), job.input + " -> " + target.string() + message);
      } catch (const Error& e) {
        record_failure(job.input, e.what());
      } catch (const fs::filesystem_error& e) {
        record_failure(job.input, e.what());
      }
    }
    finish_write();
  } catch (const Interrupted&) {
    finish_write();  // the file already being written is completed, not abandoned
    progress.note("interrupted: " + std::to_string(done) + " image(s) finished and complete; run the same command "
                  "again to continue (finished outputs are skipped)");
    return 130;
  }
  std::fprintf(stderr, "%d upscaled, %d skipped, %zu failed\n", done, skipped, failures.size() + plan.problems.size());
  if (done > 0) {
    const double total_s = seconds_since(run_start);
    std::fprintf(stderr,
                 "time: %.2f s for %d image(s), %.3f images/s; read %.2f s, network %.2f s, write %.2f s "
                 "(beside the network; waited for %.2f s)\n",
                 total_s, done, done / total_s, read_s, network_s, write_s, waited_s);
  }
  for (const auto& f : failures) std::fprintf(stderr, "  failed: %s\n", f.c_str());
  for (const auto& p : plan.problems) std::fprintf(stderr, "  not processed: %s\n", p.c_str());
  return failures.empty() && plan.problems.empty() ? 0 : 1;
}

}  // namespace microsr::cli
