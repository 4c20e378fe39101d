// SAM / SAM2 as a PromptSegmenter (include/microsr/sam.h) over two OnnxSessions: the image encoder
// and the prompt encoder + mask decoder, as segment-anything's and samexporter's scripts export
// them. The decoder's inputs:
//   <embeddings...>  the encoder's outputs (SAM: image_embeddings [1, 256, S/16, S/16]; SAM2 also
//                    high_res_feats_0/1), matched by name, else in order
//   point_coords [B, N, 2] float, model coordinates     point_labels [B, N] (a box: labels 2, 3)
//   mask_input [1, 1, 4·S/16, 4·S/16] zeros            has_mask_input [1] = 0
//   orig_im_size [2] = (H, W), when the decoder takes it (the masks then come at the image's size)
// and outputs masks [B, M, h, w] (logits; the object where > 0) and iou_predictions [B, M].
// Masks at any other size than the image's are taken to cover the model's input frame (SAM's
// padded square, SAM2's stretched one) and sampled there.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "microsr/error.h"
#include "microsr/onnx_runtime.h"
#include "microsr/sam.h"

namespace microsr {
namespace {

constexpr double kMaskBytesPerCall = 512.0 * 1024 * 1024;  // the decoder's full-size masks per call

const std::set<std::string> kPromptInputs = {"point_coords", "point_labels", "mask_input", "has_mask_input",
                                             "orig_im_size"};

std::string names_of(const std::vector<OnnxValueInfo>& infos) {
  std::string out;
  for (const OnnxValueInfo& info : infos) out += (out.empty() ? "" : ", ") + info.name + " " + info.type_str();
  return out;
}

const OnnxValueInfo* find_info(const std::vector<OnnxValueInfo>& infos, const std::string& name) {
  for (const OnnxValueInfo& info : infos)
    if (info.name == name) return &info;
  return nullptr;
}

bool is_float_type(int32_t type) {
  return type == int32_t(OnnxType::float32) || type == int32_t(OnnxType::float16) ||
         type == int32_t(OnnxType::bfloat16) || type == int32_t(OnnxType::float64) || type == 0;
}

// A value of the declared input's element type (float, else integer) from doubles.
OnnxValue value_for(const OnnxValueInfo& info, std::vector<int64_t> shape, const std::vector<double>& values) {
  if (is_float_type(info.elem_type)) return OnnxValue::from_floats(std::move(shape), {values.begin(), values.end()});
  std::vector<int64_t> integers;
  for (double v : values) integers.push_back(int64_t(std::lround(v)));
  return OnnxValue::from_integers(std::move(shape), std::move(integers), OnnxType(info.elem_type));
}

int64_t fixed_dim(const OnnxValueInfo& info, std::size_t axis, int64_t otherwise) {
  return info.has_shape && axis < info.shape.size() && info.shape[axis].value ? *info.shape[axis].value : otherwise;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

class OnnxSegmenter : public PromptSegmenter {
 public:
  OnnxSegmenter(const std::string& encoder_path, const std::string& decoder_path, void (*log)(const std::string&))
      : encoder_path_(encoder_path),
        decoder_path_(decoder_path),
        encoder_(OnnxSession::load(encoder_path)),
        decoder_(OnnxSession::load(decoder_path)),
        log_(log) {
    read_encoder_input();
    read_decoder_inputs();
    if (log_) {
      char line[512];
      std::snprintf(line, sizeof line, "%s: encoder %s (input %s %dx%d, %s), decoder %s (%s)",
                    segmenter_family_name(spec_.family), encoder_path_.c_str(), image_input_.c_str(), spec_.size,
                    spec_.size,
                    spec_.family == SegmenterFamily::sam ? "longest side resized, zero-padded" : "resized to square",
                    decoder_path_.c_str(), batched_ ? "all boxes in one call" : "one box per call");
      log_(line);
    }
  }

  void encode(const Image& image) override {
    const auto start = std::chrono::steady_clock::now();
    width_ = image.width, height_ = image.height;
    const int n = spec_.size;
    std::map<std::string, OnnxValue> feeds;
    feeds[image_input_] = OnnxValue::from_floats({1, 3, n, n}, prepare_segmenter_input(image, spec_, gray_gain(image)));
    std::map<std::string, OnnxValue> outputs = encoder_.run(feeds);
    embeddings_.clear();
    for (const auto& [decoder_input, encoder_output] : embedding_sources_) {
      auto it = outputs.find(encoder_output);
      require(it != outputs.end(), encoder_path_ + ": the encoder gave no output " + encoder_output);
      embeddings_[decoder_input] = std::move(it->second);
    }
    if (log_) {
      char line[256];
      std::snprintf(line, sizeof line, "  encoder: %dx%d image in %.2f s", image.width, image.height,
                    seconds_since(start));
      log_(line);
    }
  }

  std::vector<PromptMask> decode_boxes(const std::vector<BoxPrompt>& prompts) override {
    require(!embeddings_.empty(), "decode_boxes before encode");
    const auto start = std::chrono::steady_clock::now();
    std::vector<PromptMask> masks;
    // The decoder's masks come at the image's size, [B, M, H, W]: the batch is capped so that they
    // stay within kMaskBytesPerCall (one call for all boxes unless the image is large).
    const std::size_t per_call = batched_ ? boxes_per_call() : 1;
    int calls = 0;
    for (std::size_t first = 0; first < prompts.size(); first += per_call, ++calls) {
      const std::size_t last = std::min(prompts.size(), first + per_call);
      std::vector<PromptMask> part = decode({prompts.begin() + long(first), prompts.begin() + long(last)});
      for (PromptMask& m : part) masks.push_back(std::move(m));
    }
    if (log_) {
      char line[256];
      std::snprintf(line, sizeof line, "  decoder: %zu box%s in %d call%s, %.2f s", prompts.size(),
                    prompts.size() == 1 ? "" : "es", calls, calls == 1 ? "" : "s", seconds_since(start));
      log_(line);
    }
    return masks;
  }

 private:
  void read_encoder_input() {
    const std::vector<OnnxValueInfo>& inputs = encoder_.inputs();
    if (find_info(inputs, "point_coords"))
      throw Error(encoder_path_ +
                  ": this is a decoder (it takes point_coords); give the encoder first, then the decoder");
    const bool image_like = inputs.size() == 1 && inputs[0].has_shape && inputs[0].shape.size() == 4 &&
                            fixed_dim(inputs[0], 1, 3) == 3 &&
                            fixed_dim(inputs[0], 2, -1) == fixed_dim(inputs[0], 3, -1);
    if (!image_like)
      throw Error(encoder_path_ + ": expected an image encoder with one input float [1, 3, S, S]; found inputs " +
                  names_of(inputs) + " (an export with its own preprocessing, [H, W, 3], is not supported)");
    image_input_ = inputs[0].name;
    spec_.size = int(fixed_dim(inputs[0], 2, 1024));  // a dynamic size: the models' 1024
    require(spec_.size >= 16 && spec_.size <= 8192,
            encoder_path_ + ": input side " + std::to_string(spec_.size) + " is outside 16..8192");
  }

  void read_decoder_inputs() {
    const std::vector<OnnxValueInfo>& inputs = decoder_.inputs();
    const OnnxValueInfo* coords = find_info(inputs, "point_coords");
    if (!coords || !find_info(inputs, "point_labels"))
      throw Error(decoder_path_ + ": expected a SAM / SAM2 decoder with inputs point_coords and point_labels; found " +
                  names_of(inputs));
    batched_ = !(coords->has_shape && !coords->shape.empty() && coords->shape[0].value);
    bool sam2 = encoder_.outputs().size() > 1;
    std::vector<std::string> unmatched_outputs;
    for (const OnnxValueInfo& out : encoder_.outputs()) unmatched_outputs.push_back(out.name);
    std::vector<std::string> unmatched_inputs;
    for (const OnnxValueInfo& in : inputs) {
      if (kPromptInputs.count(in.name)) continue;
      sam2 = sam2 || in.name.find("high_res_feats") != std::string::npos;
      auto same = std::find(unmatched_outputs.begin(), unmatched_outputs.end(), in.name);
      if (same != unmatched_outputs.end()) {
        embedding_sources_[in.name] = *same;
        unmatched_outputs.erase(same);
      } else {
        unmatched_inputs.push_back(in.name);
      }
    }
    require(unmatched_inputs.size() <= unmatched_outputs.size(),
            decoder_path_ + ": the decoder takes " +
                std::to_string(embedding_sources_.size() + unmatched_inputs.size()) + " image inputs but the encoder " +
                encoder_path_ + " gives " + std::to_string(encoder_.outputs().size()) + " outputs (" +
                names_of(encoder_.outputs()) + "): are these two from the same model?");
    for (std::size_t i = 0; i < unmatched_inputs.size(); ++i)
      embedding_sources_[unmatched_inputs[i]] = unmatched_outputs[i];
    spec_.family = sam2 ? SegmenterFamily::sam2 : SegmenterFamily::sam;
  }

  std::size_t boxes_per_call() const {
    int64_t candidates = 4;  // SAM's multimask output, unless the export declares its count
    if (const OnnxValueInfo* scores = find_info(decoder_.outputs(), "iou_predictions"))
      candidates = std::max<int64_t>(1, fixed_dim(*scores, 1, 4));
    const double bytes_per_box = 4.0 * candidates * double(width_) * height_;
    return std::size_t(std::max(1.0, std::floor(kMaskBytesPerCall / bytes_per_box)));
  }

  // One decoder run for `prompts` (all of them as the batch).
  std::vector<PromptMask> decode(const std::vector<BoxPrompt>& prompts) {
    const int64_t batch = int64_t(prompts.size());
    double sx = 0, sy = 0;
    model_scale(spec_, width_, height_, sx, sy);
    std::vector<double> coords, labels;
    for (const BoxPrompt& p : prompts) {
      coords.insert(coords.end(), {p.x0 * sx, p.y0 * sy, p.x1 * sx, p.y1 * sy});
      labels.insert(labels.end(), {2, 3});
    }
    std::map<std::string, OnnxValue> feeds = embeddings_;
    for (const OnnxValueInfo& in : decoder_.inputs()) {
      if (in.name == "point_coords") feeds[in.name] = value_for(in, {batch, 2, 2}, coords);
      if (in.name == "point_labels") feeds[in.name] = value_for(in, {batch, 2}, labels);
      if (in.name == "has_mask_input") feeds[in.name] = value_for(in, {1}, {0.0});
      if (in.name == "orig_im_size") feeds[in.name] = value_for(in, {2}, {double(height_), double(width_)});
      if (in.name == "mask_input") {
        std::vector<int64_t> shape = {1, 1, fixed_dim(in, 2, 256), fixed_dim(in, 3, 256)};
        feeds[in.name] = value_for(in, shape, std::vector<double>(std::size_t(shape[2] * shape[3]), 0.0));
      }
    }
    std::map<std::string, OnnxValue> outputs = decoder_.run(feeds);
    const OnnxValue* masks = output(outputs, "masks", 4);
    const OnnxValue* scores = output(outputs, "iou_predictions", 2);
    require(masks->shape[0] == batch && scores->shape[0] == batch && scores->shape[1] == masks->shape[1] &&
                masks->is_float() && scores->is_float(),
            decoder_path_ + ": for " + std::to_string(batch) + " boxes the decoder gave masks " + masks->describe() +
                " and scores " + scores->describe() + "; expected [" + std::to_string(batch) + ", M, h, w] and [" +
                std::to_string(batch) + ", M]");
    std::vector<PromptMask> result;
    for (int64_t b = 0; b < batch; ++b)
      result.push_back(window_mask(*masks, *scores, b, prompts[std::size_t(b)].window));
    return result;
  }

  // The output called `name`, else the first of rank `rank`.
  const OnnxValue* output(const std::map<std::string, OnnxValue>& outputs, const std::string& name, std::size_t rank) {
    if (auto it = outputs.find(name); it != outputs.end() && it->second.shape.size() == rank) return &it->second;
    for (const OnnxValueInfo& info : decoder_.outputs())
      if (auto it = outputs.find(info.name); it != outputs.end() && it->second.shape.size() == rank) return &it->second;
    throw Error(decoder_path_ + ": the decoder has no output " + name + " (nor any of rank " + std::to_string(rank) +
                "); its outputs: " + names_of(decoder_.outputs()));
  }

  // Box b's best-scoring candidate mask (logits > 0), sampled over `window` (image pixels).
  PromptMask window_mask(const OnnxValue& masks, const OnnxValue& scores, int64_t b, const Box& window) const {
    const int64_t candidates = masks.shape[1], h = masks.shape[2], w = masks.shape[3];
    int64_t best = 0;
    for (int64_t m = 1; m < candidates; ++m)
      if (scores.floats[b * candidates + m] > scores.floats[b * candidates + best]) best = m;
    PromptMask out;
    out.score = scores.floats[b * candidates + best];
    out.mask = Plane8(window.width, window.height);
    const float* plane = masks.floats.data() + (b * candidates + best) * h * w;
    // At the image's size: pixel for pixel; else over the model's frame (nearest sample).
    const bool image_size = h == height_ && w == width_;
    double sx = 1, sy = 1;
    if (!image_size)
      model_scale(spec_, width_, height_, sx, sy), sx *= double(w) / spec_.size, sy *= double(h) / spec_.size;
    for (int y = 0; y < window.height; ++y)
      for (int x = 0; x < window.width; ++x) {
        const int64_t ix = image_size ? window.x + x : std::min<int64_t>(w - 1, int64_t((window.x + x + 0.5) * sx));
        const int64_t iy = image_size ? window.y + y : std::min<int64_t>(h - 1, int64_t((window.y + y + 0.5) * sy));
        if (plane[iy * w + ix] > 0) out.mask.row(y)[x] = 255;
      }
    return out;
  }

  std::string encoder_path_, decoder_path_;
  OnnxSession encoder_, decoder_;
  void (*log_)(const std::string&) = nullptr;
  SegmenterInput spec_;
  std::string image_input_;
  std::map<std::string, std::string> embedding_sources_;  // decoder input -> encoder output
  std::map<std::string, OnnxValue> embeddings_;           // decoder input -> this image's value
  bool batched_ = false;                                  // point_coords' batch dimension is dynamic
  int width_ = 0, height_ = 0;
};

}  // namespace

std::unique_ptr<PromptSegmenter> load_onnx_segmenter(const std::string& encoder_path, const std::string& decoder_path,
                                                     void (*log)(const std::string&)) {
  return std::make_unique<OnnxSegmenter>(encoder_path, decoder_path, log);
}

}  // namespace microsr
