#include "microsr/upscale.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace microsr {
namespace {

constexpr int64_t kParallelMin = int64_t(1) << 20;  // values: below this one core is quicker

float unit_clamp(float f) { return std::clamp(f, 0.0f, 1.0f); }

// dst = clamp(src, 0, 1), n values (one pass instead of clamping in place, then copying).
void clamp_into(float* dst, const float* src, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) dst[i] = unit_clamp(src[i]);
}

// ITU-R BT.601 luma of the clamped planes, the weights of cv2.cvtColor(..., RGB2GRAY) that
// Real-ESRGAN converts with (after its own clamp).
void rgb_to_gray(float* gray, const float* rgb, int64_t plane) {
#pragma omp parallel for simd schedule(static) if (plane >= kParallelMin)
  for (int64_t i = 0; i < plane; ++i)
    gray[i] =
        0.299f * unit_clamp(rgb[i]) + 0.587f * unit_clamp(rgb[plane + i]) + 0.114f * unit_clamp(rgb[2 * plane + i]);
}

// Runs one plane (gray or alpha) or three (RGB) through the network; returns 3 planes, not
// clamped yet (the caller clamps them on their way into the image).
Tensor run_network(RRDBNet& net, Backend& backend, const float* planes, int count, int w, int h,
                   const TileOptions& tiles) {
  const int64_t plane = int64_t(w) * h;
  Tensor x = Tensor::empty({1, 3, h, w});
  for (int c = 0; c < 3; ++c) std::memcpy(x.f32() + c * plane, planes + (count == 3 ? c : 0) * plane, plane * 4);
  return upscale_tiled(net, backend, x, tiles);
}

}  // namespace

Image upscale_image(RRDBNet& net, Backend& backend, const Image& in, const UpscaleOptions& opt) {
  const RRDBNetConfig& cfg = net.config();
  require(cfg.num_in_ch == 3 && cfg.num_out_ch == 3,
          "upscale needs an RGB model (3 channels in and out); this one has " + std::to_string(cfg.num_in_ch) +
              " in and " + std::to_string(cfg.num_out_ch) + " out");
  require(in.channels >= 1 && in.channels <= 4 && in.width > 0 && in.height > 0,
          "upscale: the image is empty or has " + std::to_string(in.channels) + " channels");
  const int s = cfg.scale;
  const bool gray = in.channels <= 2, alpha = in.channels == 2 || in.channels == 4;
  const int colour_planes = gray ? 1 : 3;
  const int net_w = in.width * s, net_h = in.height * s;
  const int64_t net_plane = int64_t(net_w) * net_h;

  // Colour through the network at the model's scale.
  Image out;
  out.width = net_w, out.height = net_h, out.channels = in.channels, out.bit_depth = in.bit_depth;
  out.pixels.resize(net_plane * in.channels);
  Tensor rgb = run_network(net, backend, in.plane(0), colour_planes, in.width, in.height, opt.tiles);
  if (gray)
    rgb_to_gray(out.plane(0), rgb.f32(), net_plane);
  else
    clamp_into(out.plane(0), rgb.f32(), net_plane * 3);

  // Alpha on its own, then re-attached as the last plane.
  if (alpha) {
    float* a = out.plane(in.channels - 1);
    if (opt.alpha == AlphaUpscale::network) {
      Tensor y = run_network(net, backend, in.plane(in.channels - 1), 1, in.width, in.height, opt.tiles);
      rgb_to_gray(a, y.f32(), net_plane);
    } else {
      resize_plane(a, net_w, net_h, in.plane(in.channels - 1), in.width, in.height, ResizeFilter::cubic_opencv);
      clamp_into(a, a, net_plane);
    }
  }

  // Any other final size: Lanczos-4 from the network's output, as Real-ESRGAN's --outscale.
  const double outscale = opt.outscale > 0 ? opt.outscale : s;
  const int final_w = int(in.width * outscale), final_h = int(in.height * outscale);  // truncation, as int() in Python
  require(final_w >= 1 && final_h >= 1, "--outscale " + std::to_string(outscale) + " leaves no pixels");
  if (final_w != net_w || final_h != net_h) {
    std::vector<float> resized(int64_t(final_w) * final_h * in.channels);
    resize_planes(resized.data(), final_w, final_h, out.pixels.data(), net_w, net_h, in.channels,
                  ResizeFilter::lanczos4_opencv);
    out.pixels = std::move(resized);
    out.width = final_w, out.height = final_h;
  }
  out.metadata = scale_resolution(in.metadata, double(out.width) / in.width);
  return out;
}

}  // namespace microsr
