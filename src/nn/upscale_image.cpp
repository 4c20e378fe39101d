#include "microsr/upscale.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace microsr {
namespace {

// ITU-R BT.601 luma, the weights of cv2.cvtColor(..., RGB2GRAY) that Real-ESRGAN converts with.
void rgb_to_gray(float* gray, const float* rgb, int64_t plane) {
  for (int64_t i = 0; i < plane; ++i) gray[i] = 0.299f * rgb[i] + 0.587f * rgb[plane + i] + 0.114f * rgb[2 * plane + i];
}

// Runs one plane (gray or alpha) or three (RGB) through the network; returns 3 planes, clamped.
Tensor run_network(RRDBNet& net, Backend& backend, const float* planes, int count, int w, int h,
                   const TileOptions& tiles) {
  const int64_t plane = int64_t(w) * h;
  Tensor x = Tensor::empty({1, 3, h, w});
  for (int c = 0; c < 3; ++c) std::memcpy(x.f32() + c * plane, planes + (count == 3 ? c : 0) * plane, plane * 4);
  Tensor y = upscale_tiled(net, backend, x, tiles);
  float* v = y.f32();
  std::transform(v, v + y.numel(), v, [](float f) { return std::clamp(f, 0.0f, 1.0f); });
  return y;
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
    std::memcpy(out.plane(0), rgb.f32(), net_plane * 3 * 4);

  // Alpha on its own, then re-attached as the last plane.
  if (alpha) {
    float* a = out.plane(in.channels - 1);
    if (opt.alpha == AlphaUpscale::network) {
      Tensor y = run_network(net, backend, in.plane(in.channels - 1), 1, in.width, in.height, opt.tiles);
      rgb_to_gray(a, y.f32(), net_plane);
    } else {
      resize_plane(a, net_w, net_h, in.plane(in.channels - 1), in.width, in.height, ResizeFilter::cubic_opencv);
      std::transform(a, a + net_plane, a, [](float f) { return std::clamp(f, 0.0f, 1.0f); });
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
