// How much memory a forward pass needs, and the largest tile that fits.
//
// RRDBNet's memory is dominated by the last layers, which run at the output resolution with
// num_feat channels: while conv_up2 runs, its input (the nearest-×2 upsampled map) and its output
// are both alive (2 maps of num_feat × 16·L floats, L = pixels of the body's feature maps), plus
// the ×2 map it came from (¼ map); conv_hr again holds an input and an output map, and the CPU
// convolution adds its own scratch. The body (the dense buffer of num_feat + 4·num_grow_ch channels
// and a few num_feat maps, at L) is ~6× smaller.
//
// Calibration: growth of the peak resident set (VmHWM) over one forward pass of RealESRGAN_x4plus
// on the CPU backend, in fresh processes (2-core Zen3, 2025-11):
//   input 128×128: 252.5 MiB (16.2 kB per input pixel)
//   input 192×192: 580.6 MiB (16.5 kB per input pixel)
//   input 96×96, batch 2: 257.2 MiB (14.6 kB per input pixel)
// i.e. ≈ 3.6 output-size num_feat maps at the peak rather than the 2.25 the code analysis counts.
#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

#include "microsr/tiler.h"

namespace microsr {

namespace {
// Peak live floats at output resolution, in units of one num_feat-channel output-size map: the
// measured figure (see above), not the 2.25 of the code analysis.
constexpr double kPeakHighResMaps = 3.6;
// Live floats at the body's resolution, in channels: feat, the block input, the RDB output and
// the dense buffer (num_feat + 4·num_grow_ch).
double low_res_channels(const RRDBNetConfig& c) { return 3.0 * c.num_feat + c.num_feat + 4.0 * c.num_grow_ch; }
// Headroom for allocator slack and what the calibration did not see.
constexpr double kSafety = 1.1;
}  // namespace

int64_t estimate_forward_bytes(const RRDBNetConfig& config, int64_t h, int64_t w, int64_t n, int bytes_per_value) {
  const int64_t unshuffle = config.scale == 2 ? 2 : config.scale == 1 ? 4 : 1;
  const double low = double((h + unshuffle - 1) / unshuffle) * double((w + unshuffle - 1) / unshuffle);
  const double high = 16.0 * low;  // two nearest-×2 upsamplings
  const double floats = double(config.num_in_ch) * h * w + low_res_channels(config) * low +
                        kPeakHighResMaps * config.num_feat * high + double(config.num_out_ch) * high;
  return static_cast<int64_t>(kSafety * double(bytes_per_value) * floats * double(n));
}

int auto_tile_size(const RRDBNetConfig& config, int64_t available_bytes, int tile_pad, int64_t height, int64_t width,
                   int bytes_per_value) {
  if (height > 0 && width > 0 && estimate_forward_bytes(config, height, width, 1, bytes_per_value) <= available_bytes)
    return 0;
  // Largest multiple of 8 whose padded piece fits; bisection over a monotone estimate.
  int64_t lo = 2, hi = 1 << 13;  // in units of 8 pixels: tiles of 16 … 65536
  if (height > 0 && width > 0) hi = std::max<int64_t>(lo, (std::max(height, width) + 7) / 8);
  auto fits = [&](int64_t units) {
    const int64_t piece = 8 * units + 2 * int64_t(tile_pad);
    return estimate_forward_bytes(config, piece, piece, 1, bytes_per_value) <= available_bytes;
  };
  if (!fits(lo)) return 16;  // let the out-of-memory retry decide
  while (lo < hi) {
    const int64_t mid = (lo + hi + 1) / 2;
    if (fits(mid))
      lo = mid;
    else
      hi = mid - 1;
  }
  return static_cast<int>(8 * lo);
}

int64_t available_host_memory() {
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::istringstream fields(line.substr(13));
    int64_t kib = 0;
    fields >> kib;
    return kib * 1024;
  }
  return 0;
}

}  // namespace microsr
