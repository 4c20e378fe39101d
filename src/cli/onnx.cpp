// microsr onnx ACTION MODEL.onnx: ONNX models read by our own reader (src/onnx/).
//   info   what the model declares and holds: inputs, outputs, opsets, producer, op histogram,
//          initializers (parameters, bytes) and whether the weights lie in external files.
#include <cstdio>

#include "args.h"
#include "microsr/onnx.h"
#include "microsr/onnx_sam_checks.h"
#include "subcommands.h"

namespace microsr::cli {

namespace {
const CommandSpec kSpec{"onnx",
                        "info MODEL.onnx",
                        R"(Reads an ONNX model with microsr's own reader (no ONNX Runtime, no protobuf library).

actions:
  info   print the graph's inputs and outputs (type and shape; symbolic dimensions by name), the
         opsets, the producer, the count of nodes per op type, the number of initializers with
         their parameters and bytes, and whether the weights are in external data files.
)",
                        {},
                        ""};
}  // namespace

int run_onnx(int argc, char** argv) {
  const Args args(argc, argv, kSpec);
  if (args.help()) {
    std::fputs(help_text(kSpec).c_str(), stdout);
    return 0;
  }
  const std::vector<std::string>& positional = args.positional();
  require_usage(!positional.empty(), "missing the action; the actions are: info (see --help)");
  const std::string& action = positional[0];
  require_usage(action == "info", "unknown action '" + action + "'; the actions are: info (see --help)");
  require_usage(positional.size() == 2, "info takes one MODEL.onnx (see --help)");
  const OnnxModel model = load_onnx(positional[1]);
  std::fputs(describe_onnx(model).c_str(), stdout);
  std::fputs(sam_decoder_crop_warning(model).c_str(), stdout);  // "" unless a baked SAM crop
  return 0;
}

}  // namespace microsr::cli
