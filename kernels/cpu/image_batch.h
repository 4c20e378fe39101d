// A batch of dense [C][H][W] float images for the batched CPU kernels (dgrad/, wgrad/): image i
// starts at data + i * image_stride, so the dense block's channel slices (stride = the parent's
// C·H·W) work as they are.
#pragma once
#include <cstdint>

namespace microsr::kernels {

// A batch of n dense [C][H][W] float images, image i at data + i * image_stride.
struct ImageBatch {
  const float* data = nullptr;
  int64_t image_stride = 0;
  const float* image(int64_t i) const { return data + i * image_stride; }
};
struct MutableImageBatch {
  float* data = nullptr;
  int64_t image_stride = 0;
  float* image(int64_t i) const { return data + i * image_stride; }
};

}  // namespace microsr::kernels
