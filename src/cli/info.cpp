// microsr info MODEL: what a weight file holds, without running it.
#include <cstdio>
#include <map>

#include "args.h"
#include "microsr/backend.h"
#include "microsr/rrdbnet.h"
#include "subcommands.h"

namespace microsr::cli {

namespace {
const CommandSpec kSpec{"info",
                        "[MODEL] [--layers]",
                        R"(Reads a .pth, .safetensors or ncnn .param/.bin RRDBNet model, infers its architecture and
prints parameter counts. MODEL defaults to the fetched RealESRGAN_x4plus.
)",
                        {flag("--layers", "also print every tensor's name and shape")},
                        ""};
}  // namespace

int run_info(int argc, char** argv) {
  const Args args(argc, argv, kSpec);
  if (args.help()) {
    std::fputs(help_text(kSpec).c_str(), stdout);
    return 0;
  }
  require_usage(args.positional().size() <= 1, "takes one MODEL at most (see --help)");
  const std::string path = args.positional().empty() ? default_model_path() : args.positional()[0];
  const StateDict sd = load_rrdbnet_weights(path);
  const RRDBNetConfig cfg = infer_rrdbnet_config(sd);
  std::printf("%s\n  %s\n", path.c_str(), cfg.describe().c_str());

  // Parameter counts by part of the network.
  std::map<std::string, int64_t> parts;
  for (const auto& [name, t] : sd.entries) {
    const std::string part = name.starts_with("body.") ? "body (RRDB trunk)" : name.substr(0, name.find('.'));
    parts[part] += t.numel();
  }
  for (const auto& [part, n] : parts) std::printf("  %-20s %12lld parameters\n", part.c_str(), (long long)n);
  std::printf("  per RRDB block       %12lld parameters\n",
              (long long)(parts["body (RRDB trunk)"] / std::max(1, cfg.num_block)));
  std::printf("  forward on 64×64     %12.2f GMAC (×%d output)\n", cfg.macs(64, 64) / 1e9, cfg.scale);
  // Which instruction set the CPU kernels use here (chosen at run time; MICROSR_CPU_ISA lowers it).
  std::printf("  CPU backend          %s\n", make_cpu_backend()->name().c_str());
  if (args.has("--layers"))
    for (const auto& [name, t] : sd.entries) std::printf("  %-34s %s\n", name.c_str(), shape_str(t.shape()).c_str());
  return 0;
}

}  // namespace microsr::cli
