// microsr upscale INPUT... -o OUTPUT: the command lab users run most.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "args.h"
#include "microsr/image_io.h"
#include "microsr/tiler.h"
#include "subcommands.h"

namespace microsr::cli {
namespace fs = std::filesystem;

namespace {

constexpr const char* kHelp = R"(usage: microsr upscale INPUT... -o OUTPUT [options]

Upscales images with an RRDBNet model (default: RealESRGAN_x4plus). INPUT: image files (PNG, JPEG,
BMP). OUTPUT: a file for one input, or a folder for several (created if needed).

options:
  -o, --output PATH   output file or folder (required)
  --model FILE        .pth, .safetensors or ncnn .param/.bin (default: the fetched RealESRGAN_x4plus)
  --tile N            tile size in input pixels, 0 = whole image (default 0)
  --tile-pad N        context pixels around each tile (default 10)
  --device cpu        where to run (cpu; cuda comes with the CUDA backend)
  --threads N         CPU threads (default: all cores)
  --suffix STR        appended to output names in a folder (default _out)
  --overwrite         replace existing outputs (default: skip them)
)";

// One-line progress, redrawn in place on a terminal, plain lines otherwise.
void print_progress(const std::string& name, int done, int total, double seconds) {
  const bool tty = isatty(fileno(stderr));
  const double eta = done ? seconds / done * (total - done) : 0;
  std::fprintf(stderr, "%s%s: tile %d/%d, %.1f s, ETA %.1f s%s", tty ? "\r" : "", name.c_str(), done, total,
               seconds, eta, tty ? (done == total ? "\n" : "") : "\n");
}

}  // namespace

int run_upscale(int argc, char** argv) {
  Args args(argc, argv, {"-o", "--output", "--model", "--tile", "--tile-pad", "--device", "--threads", "--suffix"},
            {"--overwrite"});
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const std::string output = args.has("-o") ? args.get("-o") : args.get("--output");
  if (args.positional().empty() || output.empty()) {
    std::fputs(kHelp, stderr);
    return 2;
  }
  const std::string device = args.get("--device", "cpu");
  require(device == "cpu" || device == "auto",
          "--device " + device + ": this build runs on the CPU only for now (the CUDA backend is coming)");

  const std::string model = args.has("--model") ? args.get("--model") : default_model_path();
  const StateDict sd = load_rrdbnet_weights(model);
  const RRDBNetConfig cfg = infer_rrdbnet_config(sd);
  auto backend = make_cpu_backend(args.get_int("--threads", 0));
  RRDBNet net(cfg, sd, *backend);
  std::fprintf(stderr, "model %s: %s\nbackend: %s\n", model.c_str(), cfg.describe().c_str(), backend->name().c_str());

  const auto& inputs = args.positional();
  const bool to_folder = inputs.size() > 1 || fs::is_directory(output);
  if (to_folder) fs::create_directories(output);
  TileOptions tiles;
  tiles.tile = args.get_int("--tile", 0);
  tiles.tile_pad = args.get_int("--tile-pad", 10);

  int failures = 0;
  for (const auto& in : inputs) {
    const fs::path out = to_folder ? fs::path(output) / (fs::path(in).stem().string() + args.get("--suffix", "_out") + ".png")
                                   : fs::path(output);
    if (fs::exists(out) && !args.has("--overwrite")) {
      std::fprintf(stderr, "%s: %s exists, skipped (use --overwrite)\n", in.c_str(), out.c_str());
      continue;
    }
    try {
      const Image img = read_image(in);
      const auto t0 = std::chrono::steady_clock::now();
      tiles.on_tile = [&](int done, int total) {
        print_progress(fs::path(in).filename().string(), done, total,
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      };
      Tensor y = upscale_tiled(net, *backend, image_to_rgb_tensor(img), tiles);
      write_png(out.string(), rgb_tensor_to_image(y, img.bit_depth));
      std::printf("%s -> %s (%d×%d -> %lld×%lld)\n", in.c_str(), out.c_str(), img.width, img.height,
                  (long long)y.dim(3), (long long)y.dim(2));
    } catch (const Error& e) {
      std::fprintf(stderr, "%s: error: %s\n", in.c_str(), e.what());
      ++failures;
    }
  }
  if (failures) std::fprintf(stderr, "%d of %zu inputs failed\n", failures, inputs.size());
  return failures ? 1 : 0;
}

}  // namespace microsr::cli
