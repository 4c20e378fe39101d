// Checks of SAM exports that `microsr onnx info` reports: problems an export carries that make its
// results wrong without any error at run time.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "microsr/onnx.h"

namespace microsr {

// A SAM prompt-encoder + mask-decoder export: its graph inputs include image_embeddings,
// point_coords, point_labels, mask_input, has_mask_input and orig_im_size (the names
// segment-anything's SamOnnxModel declares).
bool is_sam_decoder_export(const OnnxModel& model);

// What the decoder does to its upscaled masks before resizing them to orig_im_size.
struct SamCropCheck {
  bool is_sam_decoder = false;
  // true: the crop to the unpadded image is a Slice with constant ends, the size of the image the
  // export was traced with (segment-anything 1.0's SamOnnxModel), not one computed from the values
  // of orig_im_size. Masks of images of any other aspect ratio are then wrong.
  bool baked_crop = false;
  int64_t baked_height = -1;  // the constant ends of the crop on axis 2 (rows) and 3 (columns);
  int64_t baked_width = -1;   // -1 where that axis is not cropped by a constant
};

// Looks at every Resize of the graph and the Slice nodes that take its output (directly or one
// after another), the way the export writes `masks[..., :h, :w]` after upscaling.
SamCropCheck check_sam_decoder_crop(const OnnxModel& model);

// The warning `microsr onnx info` prints for a baked crop, naming the size and the fix; "" for a
// model that is not a SAM decoder or crops by orig_im_size.
std::string sam_decoder_crop_warning(const OnnxModel& model);

}  // namespace microsr
