// Weight files: PyTorch .pth (zip + restricted pickle), safetensors, ncnn .param/.bin.
//
// Every loader returns a StateDict: tensors in file order, named by their keys, float32 on the CPU
// (fp16/bf16 in the file are widened). Every loader rejects malformed input with microsr::Error
// naming the file, the field, what was expected and what was found — it never crashes.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "microsr/tensor.h"

namespace microsr {

struct StateDict {
  std::vector<std::pair<std::string, Tensor>> entries;  // file order

  const Tensor* find(const std::string& key) const;
  const Tensor& at(const std::string& key) const;  // throws Error naming the missing key
  void add(std::string key, Tensor t) { entries.emplace_back(std::move(key), std::move(t)); }
  std::size_t size() const { return entries.size(); }
};

// PyTorch torch.save() zip archives. Only tensors, dicts, OrderedDicts, lists, tuples and plain
// scalars/strings are built; any other pickled class is refused (no code is ever run).
// Returns the tensors of the (first) state dict found: top-level dict, or under the wrappers
// params_ema / params / state_dict / model (in that order of preference), keys as stored.
// A named `group` (e.g. "params" of a BasicSR file holding {"params", "params_ema"}) takes
// exactly that one, or throws Error listing the groups the file has.
StateDict load_pth(const std::string& path, const std::string& group = "");
// Writes a torch.save()-compatible zip that torch.load() reads as an OrderedDict of float32
// tensors, optionally wrapped as {wrapper: {...}} (e.g. "params_ema", as BasicSR saves).
void save_pth(const std::string& path, const StateDict& sd, const std::string& wrapper = "");
// Several state dicts in one file, as BasicSR saves a generator: {"params": {...},
// "params_ema": {...}} (each group an OrderedDict under its name). load_pth reads params_ema.
void save_pth_groups(const std::string& path, const std::vector<std::pair<std::string, const StateDict*>>& groups);

// safetensors: read F32/F16/BF16 tensors; write F32.
// The optional "__metadata__" string map is returned through / written from `metadata`.
StateDict load_safetensors(const std::string& path, std::map<std::string, std::string>* metadata = nullptr);
void save_safetensors(const std::string& path, const StateDict& sd,
                      const std::map<std::string, std::string>& metadata = {});

// ncnn model (.param text + .bin weights) of an RRDBNet, as converted for Real-ESRGAN-ncnn-vulkan:
// validated against the expected graph and mapped onto basicsr's state_dict names.
StateDict load_ncnn_rrdbnet(const std::string& param_path, const std::string& bin_path);

// Renames the keys of any known RRDBNet naming onto basicsr's (conv_first, body.N.rdbK.convJ,
// conv_body, conv_up1/2, conv_hr, conv_last): strips "module."; maps ESRGAN-2019
// (RRDB_trunk.N.RDBK.convJ, trunk_conv, upconv1/2, HRconv) and old sequential (model.0,
// model.1.sub.N.RDBK.convJ.0, model.1.sub.23, model.3/6/8/10) names. Unknown keys → Error.
StateDict to_basicsr_names(const StateDict& sd);

// Loads any supported weight file by extension (.pth/.pt, .safetensors, .param or .bin of an
// ncnn pair) and returns basicsr-named tensors. Throws Error naming the first tensor that holds
// NaN or Inf (check_weights_finite), whatever the format: such weights give a black image.
// `group` picks one weight set of a .pth that holds several (load_pth); other formats hold one,
// and a named group is an Error for them.
StateDict load_rrdbnet_weights(const std::string& path, const std::string& group = "");
// Where the default model (RealESRGAN_x4plus) lives: $MICROSR_MODELS when set (and then only
// there: a set variable without the model is an Error), else ./models, or <program dir>/../models
// and <program dir>/../../models; in each, RealESRGAN_x4plus.pth first, then the ncnn pair
// realesrgan-x4plus.param/.bin. Throws Error saying where it looked.
std::string default_model_path();

// Throws Error("<source>: tensor NAME ... holds N NaN or infinite value(s), the first at index I")
// for the first tensor of `sd` (host f32, f16 or bf16) that holds any.
void check_weights_finite(const StateDict& sd, const std::string& source);

}  // namespace microsr
