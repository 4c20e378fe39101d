// microsr — the command-line program. One file per subcommand; this one dispatches.
#include <cstdio>
#include <cstring>
#include <string>

#include "microsr/error.h"
#include "subcommands.h"

namespace {

constexpr const char* kUsage = R"(microsr — super-resolution of microscope images with RRDBNet (Real-ESRGAN)

usage: microsr <command> [options]   (microsr <command> --help for details)

commands:
  upscale   upscale images ×4 with RealESRGAN_x4plus or another RRDBNet model
  detect    find microdisks in microscope images and crop them (classical CV)
  synth     render synthetic microscope images of microdisk arrays, with ground truth
  make-pairs  make (LR, HR) training pairs from HR crops (blur + bicubic ÷4)
  finetune  fine-tune an RRDBNet on training pairs (L1, Adam), resumable
  info      print a model file's architecture and parameter counts
  bench     time one forward pass (for tools/compare_cpu_vs_torch.py)
)";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  try {
    if (command == "upscale") return microsr::cli::run_upscale(argc - 2, argv + 2);
    if (command == "info") return microsr::cli::run_info(argc - 2, argv + 2);
    if (command == "bench") return microsr::cli::run_bench(argc - 2, argv + 2);
    if (command == "detect") return microsr::cli::run_detect(argc - 2, argv + 2);
    if (command == "synth") return microsr::cli::run_synth(argc - 2, argv + 2);
    if (command == "make-pairs") return microsr::cli::run_make_pairs(argc - 2, argv + 2);
    if (command == "finetune") return microsr::cli::run_finetune(argc - 2, argv + 2);
    std::fprintf(stderr, "microsr: unknown command '%s'\n\n%s", command.c_str(), kUsage);
    return 2;
  } catch (const microsr::Error& e) {
    std::fprintf(stderr, "microsr %s: error: %s\n", command.c_str(), e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "microsr %s: error: out of memory (try a smaller --tile)\n", command.c_str());
    return 1;
  } catch (const std::exception& e) {  // a bug, not a user error: still one clear line
    std::fprintf(stderr, "microsr %s: internal error: %s\n", command.c_str(), e.what());
    return 1;
  }
}
