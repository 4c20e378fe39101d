// Detection stage 3: a promptable segmenter (SAM or SAM2, run from the user's ONNX exports by our
// own engine) segments the box of every accepted classical detection, and a gate decides per
// detection whether the mask's box replaces the classical one (docs/detection.md, "SAM refinement").
//
//   per image: encode(image) once → decode_boxes(every accepted box) in one call → per mask:
//   largest outline → box, area, circularity, IoU with the fitted disk → gate → used or kept.
//
// The gate exists so that a badly trained model cannot make detection worse: a mask is used only
// when it is not empty, the model scores it well, and it agrees with the circle fitted to the disk
// (centre, radius, overlap). Centre and radius always stay the fitted circle's; a used mask only
// changes the box (and so the crop).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "microsr/detect.h"

namespace microsr {

// ---- the model's input -----------------------------------------------------------------------
// SAM (segment-anything 1.0): RGB on 0..255, the longest side resized to `size` (the other in
// proportion), zero-padded at the right and bottom to size × size, normalised per channel with
// mean (123.675, 116.28, 103.53) and std (58.395, 57.12, 57.375). Prompts are scaled by the same
// factor on both axes.
// SAM2 (sam2 1.1.0): RGB on 0..1, resized to size × size (aspect not kept), normalised with the
// ImageNet mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225). Prompts are scaled per axis.
enum class SegmenterFamily { sam, sam2 };
const char* segmenter_family_name(SegmenterFamily family);  // "SAM", "SAM2"

struct SegmenterInput {
  SegmenterFamily family = SegmenterFamily::sam;
  int size = 1024;  // the encoder's square input side, from its declared input shape
};

// Image → model coordinates: x_model = x · sx, y_model = y · sy (SAM: new size / old size per axis,
// as its ResizeLongestSide.apply_coords; SAM2: size / width and size / height).
void model_scale(const SegmenterInput& spec, int width, int height, double& sx, double& sy);
// The size of the resized image inside the model frame (SAM: before padding; SAM2: size × size).
void resized_size(const SegmenterInput& spec, int width, int height, int& new_width, int& new_height);
// The encoder's input [1][3][size][size] for `image`: gray repeated to RGB, alpha dropped, samples
// multiplied by `gain` (gray_gain: 16-bit data over its real range) and clamped to [0, 1] first.
std::vector<float> prepare_segmenter_input(const Image& image, const SegmenterInput& spec, double gain = 1);

// ---- the segmenter -------------------------------------------------------------------------
struct BoxPrompt {
  // The box in image pixel indices (centres at integers): its first and last column and row, as
  // SAM's own box prompts are (the decoders add the half pixel themselves).
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  Box window;  // where the caller wants the mask (inside the image)
};

struct PromptMask {
  Plane8 mask;       // window-sized, 255 where the pixel belongs to the object
  double score = 0;  // the model's predicted IoU (the best of its candidate masks)
};

// A model that segments an image from box prompts. encode() runs once per image (the expensive
// part); decode_boxes() then answers any number of boxes on that image.
class PromptSegmenter {
 public:
  virtual ~PromptSegmenter() = default;
  virtual void encode(const Image& image) = 0;
  // One mask per prompt, in order, each of its prompt's window size. Throws Error before encode().
  virtual std::vector<PromptMask> decode_boxes(const std::vector<BoxPrompt>& prompts) = 0;
};

// SAM or SAM2 from an encoder and a decoder ONNX file (sam_onnx.cpp). The family and input size
// come from the models: an encoder input [1, 3, S, S]; SAM2 when the encoder has several outputs
// or the decoder takes high_res_feats. Throws Error naming the file for a model that does not fit.
// `log`: progress lines (may be null).
std::unique_ptr<PromptSegmenter> load_onnx_segmenter(const std::string& encoder_path, const std::string& decoder_path,
                                                     void (*log)(const std::string&) = nullptr);
// The encoder and decoder in a folder: encoder.onnx and decoder.onnx, else exactly one
// *encoder*.onnx and one *decoder*.onnx (samexporter writes <model>.encoder.onnx and
// <model>.decoder.onnx). Throws Error listing what the folder holds otherwise.
void find_segmenter_files(const std::string& folder, std::string& encoder_path, std::string& decoder_path);

// ---- the gate ------------------------------------------------------------------------------
struct SamGateParams {
  double min_score = 0.5;          // the model's predicted IoU must reach this, in [0, 1]
  double max_centre_shift = 0.25;  // mask centroid to fitted centre, × the fitted radius, > 0
  double min_radius_ratio = 0.8;   // √(mask area / π) / fitted radius within [min, max]
  double max_radius_ratio = 1.25;
  double min_iou = 0.7;  // mask vs fitted disk, in [0, 1]
};
// Throws Error naming the option (--sam-min-score...) when a value is outside its range.
void validate(const SamGateParams& gate);

// The window a detection's mask is asked for: its box and fitted disk grown by half the box's
// size (at least 8 pixels) on every side, inside a width × height image.
Box mask_window(const Detection& detection, int width, int height);
// Measures a window's mask against a detection (score, area, circularity, IoU with the fitted
// disk, box and outline of the largest component, in image pixels); verdict left as none.
MaskRefinement measure_mask(const PromptMask& mask, const Box& window, const Detection& detection);
// The gate's verdict for a measured mask: empty_mask, low_score, centre_shift, radius_ratio,
// low_iou (the first failing test, in that order) or used.
MaskVerdict gate_mask(const MaskRefinement& mask, const Detection& detection, const SamGateParams& gate);

// The detection's crop with every pixel outside its mask set to 0 (all channels; alpha too), for a
// detection whose mask was used. Throws Error otherwise.
Image masked_crop(const Image& image, const Detection& detection);

struct SamRefineCounts {
  int prompted = 0, used = 0;
};
// Stage 3 on detect_disks' result for `image`: encodes the image once (not at all when nothing was
// accepted), prompts every accepted detection's box in one decode call, measures and gates each
// mask; a used mask's box replaces the detection's box and its crop is recomputed (params.margin,
// params.min_crop). Detections not accepted get verdict not_prompted.
SamRefineCounts refine_with_segmenter(const Image& image, DetectionResult& result, PromptSegmenter& segmenter,
                                      const DetectParams& params, const SamGateParams& gate);

}  // namespace microsr
