// Image resampling and Gaussian blur on planar float images, OpenCV-free.
//
// A plane is [H][W] floats, row-major; several planes are [C][H][W]. Every operation is separable:
// a horizontal pass into a [src_h][dst_w] scratch plane, then a vertical pass, with the rows of
// each pass spread over OpenMP threads. Values are never clamped: a cubic or Lanczos kernel
// overshoots near edges (output < 0 or > 1 for inputs in [0, 1]). OpenCV clamps only because it
// rounds back to uint8; on float32 input cv2 does not clamp either, and that is what we match.
#pragma once
#include <vector>

namespace microsr {

enum class ResizeFilter {
  // cv2.resize(..., interpolation=INTER_CUBIC): Keys cubic, a = -0.75, 4×4 taps, half-pixel
  // centres (src = (dst + 0.5)·src_n/dst_n - 0.5), replicated border, no antialiasing when
  // downscaling (the kernel keeps its width, so a ÷4 reduction aliases).
  cubic_opencv,
  // cv2.resize(..., interpolation=INTER_LANCZOS4): windowed sinc, a = 4, 8×8 taps, weights
  // normalised to sum 1, half-pixel centres, replicated border, no antialiasing. Real-ESRGAN's
  // --outscale resizes the network output with this.
  lanczos4_opencv,
  // MATLAB imresize(..., 'bicubic') as BasicSR's imresize reimplements it: Keys cubic, a = -0.5;
  // when downscaling by s < 1 the kernel is stretched to h(x) = s·k(s·x) (width 4/s, antialias);
  // weights normalised to sum 1; symmetric (edge-repeating mirror) border. The scale is dst/src per
  // axis, as imresize(img, [rows cols]); imresize(img, scale) samples with `scale` itself, which
  // differs only when src·scale is not whole — crop to a multiple of the factor first (BasicSR's
  // mod_crop does) and the two agree.
  bicubic_matlab,
  // cv2.resize(..., interpolation=INTER_AREA), downscaling only (dst ≤ src on both axes): each
  // output pixel is the mean of the source area it covers, partial pixels weighted by overlap.
  area_opencv,
};

// Along one axis: out[i] = Σ_k weight[i·taps + k] · in[index[i·taps + k]] for i in [0, out_n).
// Indices are already mapped into [0, in_n) by the filter's border rule; rows with fewer real taps
// than `taps` are padded with zero weights.
struct ResampleTable {
  int taps = 0;
  std::vector<int> index;     // [out_n][taps]
  std::vector<float> weight;  // [out_n][taps]
};
ResampleTable resample_table(int out_n, int in_n, ResizeFilter filter);

// dst [dst_h][dst_w] ← src [src_h][src_w]. dst must not overlap src. Sizes ≥ 1.
void resize_plane(float* dst, int dst_w, int dst_h, const float* src, int src_w, int src_h, ResizeFilter filter);
// dst [channels][dst_h][dst_w] ← src [channels][src_h][src_w], each plane independently.
void resize_planes(float* dst, int dst_w, int dst_h, const float* src, int src_w, int src_h, int channels,
                   ResizeFilter filter);

// cv2.GaussianBlur(src, ksize=(0, 0), sigmaX=sigma) on a float32 image: kernel size
// round(8σ + 1) | 1 (OpenCV's rule for non-uint8 images: ±4σ), taps exp(-x²/2σ²) normalised to
// sum 1, BORDER_REFLECT_101 (…c b | a b c… — the edge pixel is not repeated). sigma > 0.
int gaussian_kernel_size(double sigma);
std::vector<float> gaussian_kernel(int size, double sigma);  // [size], sums to 1
// dst [h][w] ← src [h][w]; dst may equal src (in place).
void gaussian_blur_plane(float* dst, const float* src, int w, int h, double sigma);
void gaussian_blur_planes(float* dst, const float* src, int w, int h, int channels, double sigma);

}  // namespace microsr
