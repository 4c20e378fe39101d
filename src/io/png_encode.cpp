// 8-bit PNG encoding on every core: rows quantized and filtered in parallel, the zlib stream
// compressed in parallel pieces (io/deflate.h). Replaces stb_image_write's encoder, which took
// 6 s for one 6400×4800 frame on one core and compressed it to 47 % (bench/bench_image_write.cpp).
//
// A PNG (ISO/IEC 15948) is the 8-byte signature, then chunks — [4-byte big-endian length][4-byte
// type][data][CRC-32 of type and data] — here IHDR (size, 8-bit, colour type), IDAT (the zlib
// stream of the filtered rows; split over several chunks) and IEND. Each filtered row is one
// filter-type byte followed by the row's bytes, each minus a predictor from its left neighbour
// (a: the same channel one pixel back), the byte above (b) and the one above-left (c):
//   0 None: 0   1 Sub: a   2 Up: b   3 Average: floor((a + b) / 2)   4 Paeth: whichever of a, b,
//   c is closest to a + b - c
// computed modulo 256. The filter of each row is the one whose output has the smallest sum of
// |byte as a signed value| (libpng's default heuristic): small residuals compress best.
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "io/deflate.h"
#include "io/image_io_internal.h"

namespace microsr::detail {
namespace {

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(uint8_t(v >> shift));
}

void put_chunk(std::vector<uint8_t>& out, const char type[4], const uint8_t* data, std::size_t size) {
  put_u32(out, uint32_t(size));
  const std::size_t type_at = out.size();
  out.insert(out.end(), type, type + 4);
  if (size > 0) out.insert(out.end(), data, data + size);
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, out.data() + type_at, uInt(4 + size));
  put_u32(out, uint32_t(crc));
}

uint8_t paeth(int a, int b, int c) {
  const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return uint8_t(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
}

// Writes the best-filtered form of `row` (above: the previous raw row, or null for the first)
// to out[0] (filter type) and out[1 .. stride]. `scratch` holds 4 × stride bytes.
void filter_row(const uint8_t* row, const uint8_t* above, std::size_t stride, std::size_t bpp, uint8_t* out,
                uint8_t* scratch) {
  const bool first = above == nullptr;
  uint8_t* sub = scratch;
  uint8_t* up = scratch + stride;
  uint8_t* average = scratch + 2 * stride;
  uint8_t* pae = scratch + 3 * stride;
  for (std::size_t i = 0; i < stride; ++i) {
    const int x = row[i], a = i >= bpp ? row[i - bpp] : 0;
    const int b = first ? 0 : above[i], c = !first && i >= bpp ? above[i - bpp] : 0;
    sub[i] = uint8_t(x - a);
    up[i] = uint8_t(x - b);
    average[i] = uint8_t(x - (a + b) / 2);
    pae[i] = uint8_t(x - paeth(a, b, c));
  }
  const uint8_t* candidates[5] = {row, sub, up, average, pae};
  int best = 0;
  uint64_t best_cost = UINT64_MAX;
  for (int f = 0; f < 5; ++f) {
    uint64_t cost = 0;
    for (std::size_t i = 0; i < stride; ++i) cost += uint64_t(std::abs(int(int8_t(candidates[f][i]))));
    if (cost < best_cost) best = f, best_cost = cost;
  }
  out[0] = uint8_t(best);
  std::copy(candidates[best], candidates[best] + stride, out + 1);
}

}  // namespace

std::vector<uint8_t> encode_png(const Image& img) {
  static const uint8_t kColourType[5] = {0, 0, 4, 2, 6};  // by channels: gray, gray+alpha, RGB, RGBA
  const int channels = img.channels;
  const std::size_t stride = std::size_t(img.width) * channels, plane = std::size_t(img.width) * img.height;

  // Interleaved 8-bit rows [height][width][channels].
  std::vector<uint8_t> raw(stride * img.height);
#pragma omp parallel for schedule(static)
  for (int y = 0; y < img.height; ++y)
    for (int c = 0; c < channels; ++c) {
      const float* src = img.pixels.data() + c * plane + std::size_t(y) * img.width;
      uint8_t* dst = raw.data() + std::size_t(y) * stride + c;
      for (int x = 0; x < img.width; ++x) dst[std::size_t(x) * channels] = uint8_t(quantize(src[x], 255.0f));
    }
  // Filtered rows [height][1 + stride].
  std::vector<uint8_t> filtered((stride + 1) * img.height);
#pragma omp parallel
  {
    std::vector<uint8_t> scratch(4 * stride);
#pragma omp for schedule(static)
    for (int y = 0; y < img.height; ++y)
      filter_row(raw.data() + std::size_t(y) * stride, y ? raw.data() + std::size_t(y - 1) * stride : nullptr, stride,
                 std::size_t(channels), filtered.data() + std::size_t(y) * (stride + 1), scratch.data());
  }
  std::vector<uint8_t>().swap(raw);
  const std::vector<uint8_t> stream = zlib_compress_parallel(filtered.data(), filtered.size(), kImageDeflateLevel);

  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};  // the signature
  png.reserve(stream.size() + stream.size() / (8 << 20) * 12 + 64);
  std::vector<uint8_t> header;
  put_u32(header, uint32_t(img.width));
  put_u32(header, uint32_t(img.height));
  header.insert(header.end(), {8, kColourType[channels], 0, 0, 0});  // depth, colour, deflate, filters, no interlace
  put_chunk(png, "IHDR", header.data(), header.size());
  constexpr std::size_t kIdatBytes = std::size_t(8) << 20;
  for (std::size_t at = 0; at < stream.size(); at += kIdatBytes)
    put_chunk(png, "IDAT", stream.data() + at, std::min(kIdatBytes, stream.size() - at));
  put_chunk(png, "IEND", nullptr, 0);
  return png;
}

}  // namespace microsr::detail
