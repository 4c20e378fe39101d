// load_rrdbnet_weights: one entry point for every supported weight file.
#include <filesystem>

#include "microsr/weights.h"

namespace microsr {

StateDict load_rrdbnet_weights(const std::string& path) {
  namespace fs = std::filesystem;
  require(fs::exists(path), "model file not found: " + path +
                                " (run tools/fetch_weights.sh to get RealESRGAN_x4plus)");
  const fs::path p(path);
  const std::string ext = p.extension().string();
  if (ext == ".pth" || ext == ".pt") return to_basicsr_names(load_pth(path));
  if (ext == ".safetensors") return to_basicsr_names(load_safetensors(path));
  if (ext == ".param" || ext == ".bin") {
    fs::path param = p, bin = p;
    param.replace_extension(".param");
    bin.replace_extension(".bin");
    require(fs::exists(param) && fs::exists(bin),
            "an ncnn model needs both files: " + param.string() + " and " + bin.string());
    return load_ncnn_rrdbnet(param.string(), bin.string());
  }
  throw Error("unknown model file type '" + ext + "' for " + path +
              " (expected .pth, .safetensors, or an ncnn .param/.bin pair)");
}

}  // namespace microsr
