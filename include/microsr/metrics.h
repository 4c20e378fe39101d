// Image quality metrics on planar float images [C][H][W] with values in [0, 1].
//
// PSNR  = 10·log10(1 / MSE), the MSE over every channel and pixel (∞ for identical images).
// SSIM  = Wang et al. 2004 with an 11×11 Gaussian window (σ = 1.5), C1 = 0.01², C2 = 0.03²,
//         population (not sample) covariances, evaluated where the window fits inside the image
//         (5 pixels in from each border) and averaged over those pixels and over the channels.
//         This is skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
//         use_sample_covariance=False, data_range=1) and BasicSR's calculate_ssim on /255 data.
// crop_border removes that many pixels from every side first (BasicSR's crop_border).
#pragma once

namespace microsr {

double psnr(const float* a, const float* b, int channels, int width, int height, int crop_border = 0);
// Needs width and height ≥ 11 + 2·crop_border; throws Error otherwise.
double ssim(const float* a, const float* b, int channels, int width, int height, int crop_border = 0);

}  // namespace microsr
