// Image quality metrics: PSNR and SSIM against a reference, and two no-reference measures of
// sharpness. Every number here reproduces a named reference implementation; the goldens come from
// tools/make_metric_fixtures.py and tests/test_metrics.cpp checks them.
//
// ---- PSNR ------------------------------------------------------------------------------------------
// PSNR = 10·log10(L² / MSE): MSE is the mean squared difference over every channel and pixel
// measured, L the data range (the largest possible value: 1 for [0, 1] floats, 255 for 8-bit
// samples, 65535 for 16-bit ones). Identical images give +∞.
//
// ---- SSIM ------------------------------------------------------------------------------------------
// Wang et al. 2004. Around each pixel, Gaussian-weighted local statistics (11×11 window, σ = 1.5,
// taps exp(-d²/2σ²) normalised to sum 1): means μx, μy, variances σx², σy², covariance σxy, all
// population moments (E[x²] − μx², not the n/(n−1) sample form). Then
//     SSIM = (2 μx μy + C1)(2 σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2)),
//     C1 = (0.01·L)², C2 = (0.03·L)²,
// averaged over the 'valid' pixels only — those whose window lies inside the image, i.e. 5 pixels
// in from every border — so no border rule is ever used. Multichannel images: the mean over
// channels of each channel's SSIM. Needs at least 11×11 pixels after cropping.
//
// ---- Two conventions, one formula ------------------------------------------------------------------
// Papers and tools quote PSNR/SSIM under different conventions. microsr implements two:
//
//   skimage   skimage.metrics.peak_signal_noise_ratio and structural_similarity(gaussian_weights=True,
//             sigma=1.5, use_sample_covariance=False, channel_axis=...), on the integer samples of
//             the image's bit depth with data_range 255 (8-bit) or 65535 (16-bit). This is what the
//             seed study ran. skimage filters with a reflecting border and then discards a 5-pixel
//             margin, which is exactly the valid region above.
//   basicsr   BasicSR's calculate_psnr / calculate_ssim (used by Real-ESRGAN's validation and by
//             most SR papers' tables): values on a 0..255 scale, L = 255, `crop_border` pixels cut
//             from every side, and optionally only the luma of ITU-R BT.601 (test_y_channel):
//                 Y = 16 + 65.481·r + 128.553·g + 24.966·b,   r, g, b in [0, 1]   (Y in 16..235)
//             Gray images are measured as they are (BasicSR converts only 3-channel images). SSIM
//             is BasicSR's _ssim: cv2.filter2D with the outer product of cv2.getGaussianKernel(11,
//             1.5), then [5:-5, 5:-5] — again the valid region. BasicSR is written for 8-bit
//             images; microsr's choice for 16-bit ones is to scale the samples by 255/65535 (no
//             rounding to 8 bits), so the 16-bit precision is kept on BasicSR's scale.
//             BasicSR computes Y in float32; microsr in float64 (the difference is ~5e-7 dB and
//             ~2e-8 SSIM on the fixtures).
//
// A lesson the fixtures make concrete: PSNR and SSIM are unchanged when the data and L are scaled
// together, so on the same samples, with no crop and no Y, the two conventions give the *same*
// numbers (to rounding error). What makes BasicSR's figures differ is what is measured: the cropped
// border (where an SR network is weakest) and Y instead of RGB. Y raises PSNR twice over: it
// spans 219 levels, not 255 (the weights sum to 219), which scales every error by 219/255, +1.3 dB
// by itself; and it is a weighted mean of R, G and B, in which the channels' errors partly cancel
// (+4.7 dB in all on the rgb8 fixture, whose noise is independent per channel). Always say which
// convention a number used.
//
// Both conventions first bring a float image to integer samples of its bit depth, as
// write_image does (round(clamp(v, 0, 1)·(2^bits − 1))): the measured images are the ones that
// would be saved, as in the seed, where every image was a file.
//
// ---- Sharpness and edge strength (no reference) ------------------------------------------------
// The seed reported "sharpness 6.54 / edge strength 17.59" without defining them; these are the
// usual definitions, computed exactly as OpenCV does on the 8-bit grey image:
//   grey       cv2.cvtColor(rgb8, COLOR_RGB2GRAY) — to_gray8 in segment.h: BT.601 weights in 15-bit
//              fixed point, (9798 R + 19235 G + 3735 B + 2¹⁴) >> 15. The float image is first
//              rounded to 8 bits as round(v·255) (16-bit images too); gray images pass; alpha ignored.
//   sharpness  variance (population, 1/n) over all pixels of cv2.Laplacian(grey, CV_64F) with
//              ksize 1: the 4-neighbour kernel [0 1 0; 1 −4 1; 0 1 0]. A classic focus measure:
//              a blurred image has small second derivatives, so a small variance.
//   edge strength  the mean over all pixels of sqrt(Gx² + Gy²), Gx, Gy = cv2.Sobel(grey, CV_64F,
//              ksize 3): Gx = [−1 0 1; −2 0 2; −1 0 1], Gy its transpose.
// Both use OpenCV's default border, BORDER_REFLECT_101 (…c b | a b c…: the edge pixel is not
// repeated; a line of one pixel reflects onto itself), so every pixel counts, the border included.
// The integer filter responses are exact; the variance is formed from exact integer sums.
#pragma once
#include <string>

#include "microsr/image_io.h"
#include "microsr/segment.h"

namespace microsr {

// ---- float planes in [0, 1] -------------------------------------------------------------------------
// [C][H][W] floats with L = 1, measured as they are (no rounding): the skimage formulas with
// data_range=1. Fine-tuning's per-epoch validation uses these. crop_border removes that many pixels
// from every side first.
double psnr(const float* a, const float* b, int channels, int width, int height, int crop_border = 0);
// Needs width and height ≥ 11 + 2·crop_border; throws Error otherwise.
double ssim(const float* a, const float* b, int channels, int width, int height, int crop_border = 0);

// ---- images, by convention --------------------------------------------------------------------------
enum class MetricConvention { skimage, basicsr };

struct MetricOptions {
  MetricConvention convention = MetricConvention::skimage;
  int crop_border = 0;     // pixels removed from every side before measuring (both conventions)
  bool y_channel = false;  // measure BT.601 Y of RGB images (basicsr only: skimage has no such option)
};

// "skimage" / "basicsr", and back (throws Error naming the choices for anything else).
const char* convention_name(MetricConvention convention);
MetricConvention parse_metric_convention(const std::string& name);
// How each convention is usually quoted for a ×scale model: skimage on RGB with no crop (the
// seed); basicsr with crop_border = scale and the Y channel (BasicSR's benchmark tables).
MetricOptions conventional_options(MetricConvention convention, int scale);

// The two images must have the same size, colour channels and bit depth (8 or 16). Colour planes
// are measured (1 for gray and gray+alpha, 3 for RGB and RGBA); alpha is ignored. Throws Error on
// mismatched images, y_channel with skimage, or (SSIM) fewer than 11×11 pixels after cropping.
double psnr(const Image& a, const Image& b, const MetricOptions& options = {});
double ssim(const Image& a, const Image& b, const MetricOptions& options = {});

// ---- sharpness ----------------------------------------------------------------------------------------
double laplacian_variance(const Plane8& gray);    // var(cv2.Laplacian(gray, CV_64F))
double mean_sobel_magnitude(const Plane8& gray);  // mean(sqrt(Sobel_x² + Sobel_y²)), ksize 3, CV_64F
double sharpness(const Image& image);             // laplacian_variance(to_gray8(image))
double edge_strength(const Image& image);         // mean_sobel_magnitude(to_gray8(image))

}  // namespace microsr
