// load_rrdbnet_weights: one entry point for every supported weight file.
#include <cstdlib>
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

StateDict load_by_extension(const std::string& path, const std::string& group) {
  namespace fs = std::filesystem;
  require(fs::exists(path), "model file not found: " + path + " (run tools/fetch_weights.sh to get RealESRGAN_x4plus)");
  const fs::path p(path);
  const std::string ext = p.extension().string();
  if (ext == ".pth" || ext == ".pt") return to_basicsr_names(load_pth(path, group));
  require(group.empty(), path + ": only a .pth file holds named weight groups ('" + group +
                             "' was asked for); this file holds one set of weights");
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

StateDict load_rrdbnet_weights(const std::string& path, const std::string& group) {
  StateDict sd = load_by_extension(path, group);
  check_weights_finite(sd, path);
  return sd;
}

std::string default_model_path() {
  namespace fs = std::filesystem;
  // The model file in `d`, PyTorch's first, then ncnn's; "" when it has neither.
  const auto model_in = [](const fs::path& d) -> std::string {
    for (const char* name : {"RealESRGAN_x4plus.pth", "realesrgan-x4plus.param"})
      if (fs::exists(d / name)) return (d / name).lexically_normal().string();
    return "";
  };
  std::vector<fs::path> dirs;
  // A MICROSR_MODELS that is set is meant: when it does not hold the model, say so instead of
  // quietly taking one from another folder.
  if (const char* env = std::getenv("MICROSR_MODELS"); env && *env) {
    const fs::path d(env);
    if (std::string found = model_in(d); !found.empty()) return found;
    throw Error(
        std::string("no model given, and $MICROSR_MODELS (") + env + ") " +
        (fs::is_directory(d) ? "holds neither RealESRGAN_x4plus.pth nor realesrgan-x4plus.param" : "is not a folder") +
        "; fix or unset it, run tools/fetch_weights.sh, or pass --model FILE");
  }
  dirs.emplace_back("models");
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    dirs.push_back(exe.parent_path() / ".." / "models");
    dirs.push_back(exe.parent_path() / ".." / ".." / "models");
  }
  for (const auto& d : dirs)
    if (std::string found = model_in(d); !found.empty()) return found;
  throw Error(
      "no model given and RealESRGAN_x4plus not found in $MICROSR_MODELS, ./models or next to the "
      "program; run tools/fetch_weights.sh or pass --model FILE");
}

}  // namespace microsr
