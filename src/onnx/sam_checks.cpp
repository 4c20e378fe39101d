// Recognises SAM decoder exports whose mask crop was baked in at trace time (see
// include/microsr/onnx_sam_checks.h and docs/sam.md).
#include "microsr/onnx_sam_checks.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

namespace microsr {

namespace {

const char* const kSamDecoderInputs[] = {"image_embeddings", "point_coords",   "point_labels",
                                         "mask_input",       "has_mask_input", "orig_im_size"};

// Slice ends at or beyond this mean "to the end" (torch writes INT64_MAX for `x[:, 1:]`).
constexpr int64_t kOpenEnd = int64_t{1} << 31;

// Integer values of `name` when they are fixed in the file: an initializer or the output of a
// Constant node (value tensor, value_int or value_ints). nullopt for run-time values.
class ConstantIntegers {
 public:
  explicit ConstantIntegers(const OnnxGraph& graph) : graph_(graph) {
    for (const OnnxNode& node : graph.nodes) {
      if (node.op_type == "Constant" && node.outputs.size() == 1) constant_nodes_[node.outputs[0]] = &node;
    }
  }

  std::optional<std::vector<int64_t>> find(const std::string& name) const {
    if (const OnnxTensor* init = graph_.initializer(name)) {
      if (init->has_values && !init->integers.empty()) return init->integers;
      return std::nullopt;
    }
    const auto it = constant_nodes_.find(name);
    if (it == constant_nodes_.end()) return std::nullopt;
    const OnnxNode& node = *it->second;
    if (const OnnxAttribute* value = node.attribute("value");
        value && value->t && value->t->has_values && !value->t->integers.empty()) {
      return value->t->integers;
    }
    if (const OnnxAttribute* ints = node.attribute("value_ints")) return ints->ints;
    if (const OnnxAttribute* one = node.attribute("value_int")) return std::vector<int64_t>{one->i};
    return std::nullopt;
  }

 private:
  const OnnxGraph& graph_;
  std::map<std::string, const OnnxNode*> constant_nodes_;
};

// Records the constant crop ends a Slice puts on axes 2 and 3 of a rank-4 mask tensor.
void record_constant_crop(const OnnxNode& slice, const ConstantIntegers& constants, SamCropCheck& check) {
  if (slice.inputs.size() < 3) return;
  const std::optional<std::vector<int64_t>> ends = constants.find(slice.inputs[2]);
  if (!ends) return;  // ends computed at run time: the fixed export
  std::vector<int64_t> axes;
  if (slice.inputs.size() >= 4 && !slice.inputs[3].empty()) {
    const std::optional<std::vector<int64_t>> found = constants.find(slice.inputs[3]);
    if (!found) return;
    axes = *found;
  } else {
    for (std::size_t i = 0; i < ends->size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  for (std::size_t i = 0; i < axes.size() && i < ends->size(); ++i) {
    const int64_t axis = axes[i] < 0 ? axes[i] + 4 : axes[i];  // the masks are [B, M, H, W]
    const int64_t end = (*ends)[i];
    if (end <= 0 || end >= kOpenEnd) continue;
    if (axis == 2) check.baked_height = end;
    if (axis == 3) check.baked_width = end;
  }
}

}  // namespace

bool is_sam_decoder_export(const OnnxModel& model) {
  std::set<std::string> names;
  for (const OnnxValueInfo* input : onnx_runtime_inputs(model)) names.insert(input->name);
  return std::all_of(std::begin(kSamDecoderInputs), std::end(kSamDecoderInputs),
                     [&](const char* name) { return names.count(name) > 0; });
}

SamCropCheck check_sam_decoder_crop(const OnnxModel& model) {
  SamCropCheck check;
  check.is_sam_decoder = is_sam_decoder_export(model);
  if (!check.is_sam_decoder) return check;
  const OnnxGraph& graph = model.graph;
  const ConstantIntegers constants(graph);
  std::map<std::string, std::vector<const OnnxNode*>> slices_reading;  // data input -> Slice nodes
  for (const OnnxNode& node : graph.nodes) {
    if (node.op_type == "Slice" && !node.inputs.empty()) slices_reading[node.inputs[0]].push_back(&node);
  }
  // From each Resize output, walk the chain of Slices that crop it (one per axis in torch's export).
  for (const OnnxNode& node : graph.nodes) {
    if (node.op_type != "Resize" || node.outputs.empty()) continue;
    std::vector<std::string> frontier = {node.outputs[0]};
    while (!frontier.empty()) {
      const std::string value = frontier.back();
      frontier.pop_back();
      const auto it = slices_reading.find(value);
      if (it == slices_reading.end()) continue;
      for (const OnnxNode* slice : it->second) {
        record_constant_crop(*slice, constants, check);
        if (!slice->outputs.empty()) frontier.push_back(slice->outputs[0]);
      }
    }
  }
  check.baked_crop = check.baked_height > 0 || check.baked_width > 0;
  return check;
}

std::string sam_decoder_crop_warning(const OnnxModel& model) {
  const SamCropCheck check = check_sam_decoder_crop(model);
  if (!check.baked_crop) return "";
  auto side = [](int64_t v) { return v > 0 ? std::to_string(v) : std::string("(all)"); };
  return "warning: this SAM decoder crops its upscaled masks to a fixed " + side(check.baked_height) + " x " +
         side(check.baked_width) +
         " (rows x columns), the size before padding of the image it was traced with, instead of the size "
         "computed from orig_im_size. segment-anything 1.0's SamOnnxModel bakes that crop in, so masks "
         "of images with any other aspect ratio come out shifted and stretched. Re-export the decoder "
         "with the fixed-crop command in docs/sam.md (tools/make_sam_fixtures.py --export-checkpoint "
         "CHECKPOINT --kind sam_vit_b --out DIR).\n";
}

}  // namespace microsr
