// Detection stage 3 (include/microsr/sam.h): the model's input, the masks' measures, the gate, and
// the per-image loop. The ONNX side is sam_onnx.cpp.
#include "microsr/sam.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numbers>

#include "microsr/error.h"
#include "microsr/imgproc.h"

namespace microsr {
namespace fs = std::filesystem;

namespace {

constexpr float kSamMean[3] = {123.675f, 116.28f, 103.53f};  // on 0..255
constexpr float kSamStd[3] = {58.395f, 57.12f, 57.375f};
constexpr float kImageNetMean[3] = {0.485f, 0.456f, 0.406f};  // on 0..1
constexpr float kImageNetStd[3] = {0.229f, 0.224f, 0.225f};

std::string number_text(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}

}  // namespace

const char* segmenter_family_name(SegmenterFamily family) { return family == SegmenterFamily::sam ? "SAM" : "SAM2"; }

void resized_size(const SegmenterInput& spec, int width, int height, int& new_width, int& new_height) {
  require(width >= 1 && height >= 1 && spec.size >= 1, "segmenter input: empty image or model size");
  if (spec.family == SegmenterFamily::sam2) {
    new_width = new_height = spec.size;
    return;
  }
  // segment-anything's ResizeLongestSide.get_preprocess_shape: int(side · scale + 0.5).
  const double scale = double(spec.size) / std::max(width, height);
  new_width = int(width * scale + 0.5), new_height = int(height * scale + 0.5);
}

void model_scale(const SegmenterInput& spec, int width, int height, double& sx, double& sy) {
  int new_width = 0, new_height = 0;
  resized_size(spec, width, height, new_width, new_height);
  sx = double(new_width) / width, sy = double(new_height) / height;
}

std::vector<float> prepare_segmenter_input(const Image& image, const SegmenterInput& spec, double gain) {
  int new_width = 0, new_height = 0;
  resized_size(spec, image.width, image.height, new_width, new_height);
  // RGB on 0..1 at the image's size.
  const std::size_t plane = std::size_t(image.width) * image.height;
  std::vector<float> rgb(3 * plane);
  for (int c = 0; c < 3; ++c) {
    const float* src = image.plane(image.channels >= 3 ? c : 0);
    for (std::size_t i = 0; i < plane; ++i) rgb[c * plane + i] = std::clamp(float(src[i] * gain), 0.0f, 1.0f);
  }
  // Resized: by area averaging when shrinking on both axes (antialiased, as the models' own
  // PIL / torchvision resizes are), else cubic.
  const bool shrink = new_width <= image.width && new_height <= image.height;
  std::vector<float> resized(3 * std::size_t(new_width) * new_height);
  resize_planes(resized.data(), new_width, new_height, rgb.data(), image.width, image.height, 3,
                shrink ? ResizeFilter::area_opencv : ResizeFilter::cubic_opencv);
  // [3][size][size], normalised; the padding (SAM) is zero after normalisation, as in SAM.
  const int n = spec.size;
  std::vector<float> input(3 * std::size_t(n) * n, 0.0f);
  const bool sam = spec.family == SegmenterFamily::sam;
  for (int c = 0; c < 3; ++c) {
    const float mean = sam ? kSamMean[c] : kImageNetMean[c], stddev = sam ? kSamStd[c] : kImageNetStd[c];
    const float range = sam ? 255.0f : 1.0f;
    for (int y = 0; y < new_height; ++y)
      for (int x = 0; x < new_width; ++x) {
        const float v = std::clamp(resized[(std::size_t(c) * new_height + y) * new_width + x], 0.0f, 1.0f);
        input[(std::size_t(c) * n + y) * n + x] = (v * range - mean) / stddev;
      }
  }
  return input;
}

void validate(const SamGateParams& g) {
  require(g.min_score >= 0 && g.min_score <= 1, "--sam-min-score must be in [0, 1], got " + number_text(g.min_score));
  require(
      g.max_centre_shift > 0 && g.max_centre_shift <= 10,
      "--sam-max-shift must be in (0, 10] (a fraction of the disk's radius), got " + number_text(g.max_centre_shift));
  require(g.min_radius_ratio > 0 && g.min_radius_ratio <= 1 && g.max_radius_ratio >= 1 && g.max_radius_ratio <= 10,
          "--sam-radius-ratio MIN,MAX needs 0 < MIN <= 1 <= MAX <= 10, got " + number_text(g.min_radius_ratio) + "," +
              number_text(g.max_radius_ratio));
  require(g.min_iou >= 0 && g.min_iou <= 1, "--sam-min-iou must be in [0, 1], got " + number_text(g.min_iou));
}

void find_segmenter_files(const std::string& folder, std::string& encoder_path, std::string& decoder_path) {
  require(fs::is_directory(folder), "--sam " + folder +
                                        ": not a folder (give ENCODER.onnx DECODER.onnx, or a folder "
                                        "holding encoder.onnx and decoder.onnx)");
  const fs::path dir(folder);
  if (fs::is_regular_file(dir / "encoder.onnx") && fs::is_regular_file(dir / "decoder.onnx")) {
    encoder_path = (dir / "encoder.onnx").string(), decoder_path = (dir / "decoder.onnx").string();
    return;
  }
  std::vector<std::string> encoders, decoders, all;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || entry.path().extension() != ".onnx") continue;
    all.push_back(name);
    if (name.find("encoder") != std::string::npos) encoders.push_back(entry.path().string());
    if (name.find("decoder") != std::string::npos) decoders.push_back(entry.path().string());
  }
  if (encoders.size() == 1 && decoders.size() == 1 && encoders[0] != decoders[0]) {
    encoder_path = encoders[0], decoder_path = decoders[0];
    return;
  }
  std::sort(all.begin(), all.end());
  std::string listing;
  for (const std::string& name : all) listing += (listing.empty() ? "" : ", ") + name;
  throw Error("--sam " + folder + ": expected encoder.onnx and decoder.onnx, or exactly one *encoder*.onnx and one " +
              "*decoder*.onnx (as samexporter writes them); the folder holds " +
              (listing.empty() ? std::string("no .onnx files") : listing));
}

Box mask_window(const Detection& d, int width, int height) {
  const int grow = std::max(8, std::max(d.box.width, d.box.height) / 2);
  int x0 = std::min(d.box.x, int(std::floor(d.cx - d.radius))) - grow;
  int y0 = std::min(d.box.y, int(std::floor(d.cy - d.radius))) - grow;
  int x1 = std::max(d.box.x + d.box.width, int(std::ceil(d.cx + d.radius)) + 1) + grow;
  int y1 = std::max(d.box.y + d.box.height, int(std::ceil(d.cy + d.radius)) + 1) + grow;
  x0 = std::clamp(x0, 0, width - 1), y0 = std::clamp(y0, 0, height - 1);
  x1 = std::clamp(x1, x0 + 1, width), y1 = std::clamp(y1, y0 + 1, height);
  return Box{x0, y0, x1 - x0, y1 - y0};
}

MaskRefinement measure_mask(const PromptMask& mask, const Box& window, const Detection& d) {
  require(mask.mask.width == window.width && mask.mask.height == window.height &&
              mask.mask.pixels.size() == std::size_t(window.width) * window.height,
          "segmenter mask " + std::to_string(mask.mask.width) + "x" + std::to_string(mask.mask.height) +
              " does not match its window " + std::to_string(window.width) + "x" + std::to_string(window.height));
  MaskRefinement m;
  m.score = mask.score;
  // IoU with the fitted disk as pixels: pixel centres within the radius (the radius is the pixel
  // region's, circle_fit.cpp). The window holds the whole disk (mask_window).
  int64_t both = 0, either = 0;
  for (int y = 0; y < window.height; ++y)
    for (int x = 0; x < window.width; ++x) {
      const double dx = window.x + x - d.cx, dy = window.y + y - d.cy;
      const bool in_disk = dx * dx + dy * dy <= d.radius * d.radius;
      const bool in_mask = mask.mask.at(x, y) != 0;
      both += in_disk && in_mask, either += in_disk || in_mask;
    }
  m.iou = either > 0 ? double(both) / double(either) : 0.0;
  m.window = window;
  m.pixels = mask.mask;
  // The largest component's outline gives the box, area and circularity.
  const std::vector<Contour> outlines = find_external_contours(mask.mask);
  double best_area = -1;
  for (const Contour& outline : outlines)
    if (const double area = contour_area(outline); area > best_area) best_area = area, m.outline = outline;
  if (m.outline.empty()) return m;
  for (Point& p : m.outline) p.x += window.x, p.y += window.y;
  m.area = best_area;
  m.circularity = circularity(m.area, contour_perimeter(m.outline));
  m.box = bounding_box(m.outline);
  return m;
}

MaskVerdict gate_mask(const MaskRefinement& m, const Detection& d, const SamGateParams& gate) {
  if (m.outline.empty() || m.area < 1) return MaskVerdict::empty_mask;
  if (!(m.score >= gate.min_score)) return MaskVerdict::low_score;
  double mx = 0, my = 0;
  contour_centroid(m.outline, mx, my);
  if (std::hypot(mx - d.cx, my - d.cy) > gate.max_centre_shift * d.radius) return MaskVerdict::centre_shift;
  // The outline runs through the border pixels' centres: + 0.5 for the pixel region's radius.
  const double ratio = (std::sqrt(m.area / std::numbers::pi) + 0.5) / d.radius;
  if (!(ratio >= gate.min_radius_ratio && ratio <= gate.max_radius_ratio)) return MaskVerdict::radius_ratio;
  if (!(m.iou >= gate.min_iou)) return MaskVerdict::low_iou;
  return MaskVerdict::used;
}

Image masked_crop(const Image& image, const Detection& d) {
  require(d.mask.used(), "masked_crop: detection " + std::to_string(d.id) + " has no used mask");
  Image out = crop_image(image, d.crop);
  const Box& w = d.mask.window;
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x) {
      const int mx = d.crop.x + x - w.x, my = d.crop.y + y - w.y;
      const bool inside = mx >= 0 && my >= 0 && mx < w.width && my < w.height && d.mask.pixels.at(mx, my) != 0;
      if (inside) continue;
      for (int c = 0; c < out.channels; ++c) out.plane(c)[std::size_t(y) * out.width + x] = 0;
    }
  return out;
}

SamRefineCounts refine_with_segmenter(const Image& image, DetectionResult& result, PromptSegmenter& segmenter,
                                      const DetectParams& params, const SamGateParams& gate) {
  validate(gate);
  std::vector<int> prompted;
  std::vector<BoxPrompt> prompts;
  for (int i = 0; i < int(result.detections.size()); ++i) {
    Detection& d = result.detections[i];
    if (!d.accepted) {
      d.mask = MaskRefinement{};
      d.mask.verdict = MaskVerdict::not_prompted;
      continue;
    }
    BoxPrompt prompt;
    prompt.x0 = d.box.x, prompt.y0 = d.box.y;
    prompt.x1 = d.box.x + d.box.width - 1, prompt.y1 = d.box.y + d.box.height - 1;
    prompt.window = mask_window(d, image.width, image.height);
    prompts.push_back(prompt);
    prompted.push_back(i);
  }
  SamRefineCounts counts;
  if (prompts.empty()) return counts;
  segmenter.encode(image);
  const std::vector<PromptMask> masks = segmenter.decode_boxes(prompts);
  require(masks.size() == prompts.size(), "segmenter returned " + std::to_string(masks.size()) + " masks for " +
                                              std::to_string(prompts.size()) + " box prompts");
  for (std::size_t k = 0; k < prompts.size(); ++k) {
    Detection& d = result.detections[prompted[k]];
    d.mask = measure_mask(masks[k], prompts[k].window, d);
    d.mask.verdict = gate_mask(d.mask, d, gate);
    ++counts.prompted;
    if (!d.mask.used()) continue;
    ++counts.used;
    d.box = d.mask.box;
    d.crop = crop_box(d.box, params.margin, params.min_crop, image.width, image.height);
  }
  return counts;
}

}  // namespace microsr
