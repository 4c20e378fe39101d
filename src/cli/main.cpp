// microsr — the command-line program. One file per subcommand; this one dispatches through the
// command table and turns exceptions into the exit-status contract (README, "Exit status"):
// 0 done, 1 some inputs failed or a runtime error, 2 usage error, 130 interrupted.
#include <cstdio>
#include <cstring>
#include <new>
#include <string>

#include "args.h"
#include "input_failure.h"
#include "microsr/error.h"
#include "subcommands.h"

namespace {

struct Command {
  const char* name;
  const char* summary;                // one line, for the usage below
  int (*run)(int argc, char** argv);  // gets the arguments after the command's name
};

constexpr Command kCommands[] = {
    {"upscale", "upscale images ×4 with RealESRGAN_x4plus or another RRDBNet model", microsr::cli::run_upscale},
    {"detect", "find microdisks in microscope images and crop them (classical CV)", microsr::cli::run_detect},
    {"synth", "render synthetic microscope images of microdisk arrays, with ground truth", microsr::cli::run_synth},
    {"make-pairs", "make (LR, HR) training pairs from HR crops (blur + bicubic ÷4)", microsr::cli::run_make_pairs},
    {"finetune", "fine-tune an RRDBNet on training pairs (L1, Adam), resumable", microsr::cli::run_finetune},
    {"evaluate", "PSNR/SSIM and sharpness studies with intervals (sr-pairs, workflow, truth, cross-mag)",
     microsr::cli::run_evaluate},
    {"pipeline", "the whole job: detect, pairs, fine-tune, evaluate, upscale, report (resumable)",
     microsr::cli::run_pipeline},
    {"report", "an HTML report of evaluation studies: tables, charts, grids, training curve", microsr::cli::run_report},
    {"info", "print a model file's architecture and parameter counts", microsr::cli::run_info},
    {"onnx", "ONNX models: `onnx info MODEL.onnx` prints inputs, outputs, ops, parameters; `onnx run` runs one on .npy inputs",
     microsr::cli::run_onnx},
    {"bench", "time one forward pass or training iteration (JSON line)", microsr::cli::run_bench},
};

std::string usage() {
  std::string out =
      "microsr — super-resolution of microscope images with RRDBNet (Real-ESRGAN)\n\n"
      "usage: microsr <command> [options]   (microsr <command> --help for details)\n\ncommands:\n";
  for (const Command& c : kCommands) {
    std::string name = c.name;
    name.resize(12, ' ');
    out += "  " + name + c.summary + "\n";
  }
  return out + "\n" + microsr::cli::kExitStatusHelp;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help")) {
    std::fputs(usage().c_str(), argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  const Command* found = nullptr;
  for (const Command& c : kCommands)
    if (command == c.name) found = &c;
  if (!found) {
    std::fprintf(stderr, "microsr: unknown command '%s'\n\n%s", command.c_str(), usage().c_str());
    return 2;
  }
  try {
    return found->run(argc - 2, argv + 2);
  } catch (const microsr::UsageError& e) {
    std::fprintf(stderr, "microsr %s: error: %s\n", command.c_str(), e.what());
    return 2;
  } catch (const microsr::Error& e) {
    std::fprintf(stderr, "microsr %s: error: %s\n", command.c_str(), e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "microsr %s: error: %s\n", command.c_str(), microsr::cli::out_of_memory_text().c_str());
    return 1;
  } catch (const std::exception& e) {  // a bug, not a user error: still one clear line
    std::fprintf(stderr, "microsr %s: internal error: %s\n", command.c_str(), e.what());
    return 1;
  }
}
