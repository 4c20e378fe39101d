// load_rrdbnet_weights: one entry point for every supported weight file.
#include <filesystem>

#include "microsr/weights.h"

namespace microsr {
void check_weights_finite(const StateDict& sd, const std::string& source) {
  for (const auto& [name, t] : sd.entries) {
    const auto [count, first] = find_non_finite(t);
    if (count > 0)
      throw Error(source + ": tensor " + name + " " + t.describe() + " holds " + std::to_string(count) +
                  " NaN or infinite value(s), the first at index " + std::to_string(first) +
                  ": the file is damaged or comes from a training run that diverged; a network with these weights "
                  "would output NaN (a black image)");
  }
}

namespace {

StateDict load_by_extension(const std::string& path) {
  namespace fs = std::filesystem;
  require(fs::exists(path), "model file not found: " + path + " (run tools/fetch_weights.sh to get RealESRGAN_x4plus)");
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

}  // namespace

StateDict load_rrdbnet_weights(const std::string& path) {
  StateDict sd = load_by_extension(path);
  check_weights_finite(sd, path);
  return sd;
}

}  // namespace microsr
