// The parallel encoders behind write_image (src/io/deflate.cpp, png_encode.cpp, tiff_io.cpp) on
// inputs large enough to cross their seams: zlib pieces, PNG IDAT chunks, TIFF strip groups.
// Independent decoders judge them: zlib's own inflate, stb_image (PNG), libtiff (TIFF) and, where
// Debian's Pillow is present, Pillow.
#include <omp.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "io/deflate.h"
#include "io/image_io_internal.h"
#include "microsr/image_io.h"
#include "test_helpers.h"

namespace microsr {
namespace {

using namespace microsr::testing;
namespace fs = std::filesystem;

// Bytes that compress somewhat: runs, repeats of earlier stretches (matches across piece seams),
// and noise.
std::vector<uint8_t> mixed_bytes(std::size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out(size);
  for (std::size_t i = 0; i < size; ++i) {
    const unsigned kind = (i / 997) % 3;
    out[i] = kind == 0 ? uint8_t(i / 31) : kind == 1 && i >= 5000 ? out[i - 5000] : uint8_t(rng());
  }
  return out;
}

std::vector<uint8_t> inflate_all(const std::vector<uint8_t>& stream, std::size_t expected_size) {
  std::vector<uint8_t> out(expected_size + 1);
  uLongf size = uLongf(out.size());
  const int status = uncompress(out.data(), &size, stream.data(), uLong(stream.size()));
  EXPECT_EQ(status, Z_OK) << "zlib's inflate refused the stream";
  out.resize(size);
  return out;
}

TEST(ParallelDeflate, IsOneZlibStreamThatInflatesToItsInputAtEverySize) {
  constexpr std::size_t piece = 4096;
  for (std::size_t size : {std::size_t(0), std::size_t(1), std::size_t(1000), piece - 1, piece, piece + 1,
                           3 * piece + 17, std::size_t(70000)}) {
    const std::vector<uint8_t> data = mixed_bytes(size, unsigned(size));
    for (int level : {1, 6}) {
      const std::vector<uint8_t> stream = detail::zlib_compress_parallel(data.data(), data.size(), level, piece);
      EXPECT_EQ(inflate_all(stream, size), data) << "size " << size << ", level " << level;
      // The header's check bits make (CMF·256 + FLG) a multiple of 31 (RFC 1950).
      ASSERT_GE(stream.size(), 6u);
      EXPECT_EQ((stream[0] * 256 + stream[1]) % 31, 0) << "size " << size;
    }
  }
  const std::vector<uint8_t> one = mixed_bytes(5000, 1);
  EXPECT_EQ(inflate_all(detail::zlib_compress(one.data(), one.size(), 1), one.size()), one);
}

TEST(ParallelDeflate, GivesTheSameBytesWhateverTheThreadCount) {
  const std::vector<uint8_t> data = mixed_bytes(200000, 7);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const std::vector<uint8_t> alone = detail::zlib_compress_parallel(data.data(), data.size(), 1, 8192);
  omp_set_num_threads(std::max(2, threads));
  const std::vector<uint8_t> together = detail::zlib_compress_parallel(data.data(), data.size(), 1, 8192);
  omp_set_num_threads(threads);
  EXPECT_EQ(alone, together);
}

TEST(ParallelDeflate, PrimingWithThePreviousWindowKeepsMatchesAcrossSeams) {
  // A stretch repeated right after itself: with each piece primed by the 32 KiB before it, the
  // repeat compresses to almost nothing even where it starts a new piece.
  std::vector<uint8_t> data = mixed_bytes(16384, 3);
  data.insert(data.end(), data.begin(), data.end());
  const std::size_t whole = detail::zlib_compress(data.data(), data.size(), 6).size();
  const std::size_t split = detail::zlib_compress_parallel(data.data(), data.size(), 6, 16384).size();
  EXPECT_LE(split, whole + 64) << "the second piece did not find its matches in the first";
}

// Gradients (which the PNG filters turn into small residuals), flat areas and noise.
Image encoder_test_image(int width, int height, int channels, int bits) {
  Image img;
  img.width = width, img.height = height, img.channels = channels, img.bit_depth = bits;
  img.pixels.resize(std::size_t(width) * height * channels);
  std::mt19937 rng(unsigned(width * 31 + channels));
  std::uniform_real_distribution<float> noise(0.f, 1.f);
  for (int c = 0; c < channels; ++c)
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x) {
        const int band = (y / 37 + x / 53) % 3;
        img.plane(c)[std::size_t(y) * width + x] = band == 0
                                                       ? float(x + 2 * y + 40 * c) / float(width + 2 * height + 160)
                                                   : band == 1 ? 0.25f
                                                               : noise(rng);
      }
  return img;
}

void expect_exact_round_trip(const Image& back, const Image& img, int bits, const std::string& what) {
  ASSERT_EQ(back.width, img.width) << what;
  ASSERT_EQ(back.height, img.height) << what;
  ASSERT_EQ(back.channels, img.channels) << what;
  const float max = bits == 16 ? 65535.f : 255.f;
  int wrong = 0;
  for (std::size_t i = 0; i < img.pixels.size(); ++i) {
    const double got = double(back.pixels[i]) * max, want = detail::quantize(img.pixels[i], max);
    if (std::abs(got - want) > 0.01 && wrong++ < 3)
      ADD_FAILURE() << what << ": sample " << i << " is " << got << ", expected " << want;
  }
}

TEST(ImageEncoders, LargePngsRoundTripAcrossPiecesAndIdatChunks) {
  // 1200 × 1000 RGB: 3.6 MB of filtered rows, four zlib pieces; gray+alpha and RGBA too.
  for (auto [width, height, channels] : {std::tuple{1200, 1000, 3}, std::tuple{333, 777, 2}, std::tuple{640, 480, 4}}) {
    const Image img = encoder_test_image(width, height, channels, 8);
    const std::string path = temp_path("large_" + std::to_string(channels) + ".png");
    write_png(path, img);
    expect_exact_round_trip(read_image(path), img, 8, path);  // stb_image decodes it
    fs::remove(path);
  }
}

TEST(ImageEncoders, PngRowsUseSeveralFilterTypes) {
  const Image img = encoder_test_image(300, 200, 3, 8);
  const std::vector<uint8_t> png = detail::encode_png(img);
  // The IDAT chunks' data, concatenated, is the zlib stream of [filter type][row] × height.
  std::vector<uint8_t> stream;
  for (std::size_t at = 8; at + 12 <= png.size();) {
    const std::size_t length =
        std::size_t(png[at]) << 24 | std::size_t(png[at + 1]) << 16 | png[at + 2] << 8 | png[at + 3];
    if (std::string(png.begin() + long(at) + 4, png.begin() + long(at) + 8) == "IDAT")
      stream.insert(stream.end(), png.begin() + long(at) + 8, png.begin() + long(at + 8 + length));
    at += 12 + length;
  }
  const std::size_t row = 1 + 300 * 3;
  const std::vector<uint8_t> rows = inflate_all(stream, row * 200);
  ASSERT_EQ(rows.size(), row * 200);
  std::set<int> filters;
  for (std::size_t y = 0; y < 200; ++y) filters.insert(rows[y * row]);
  EXPECT_GE(filters.size(), 3u) << "the per-row filter choice is not happening";
  for (int f : filters) EXPECT_LE(f, 4);
}

TEST(ImageEncoders, LargeTiffsRoundTripAcrossStripGroups) {
  // 2000 × 700 RGB 16-bit: 21 rows a strip, 34 strips, more than one group of 8 per thread.
  for (auto [width, height, channels, bits] :
       {std::tuple{2000, 700, 3, 16}, std::tuple{1501, 900, 1, 8}, std::tuple{800, 1300, 4, 8}}) {
    const Image img = encoder_test_image(width, height, channels, bits);
    const std::string path = temp_path("large_" + std::to_string(channels) + "_" + std::to_string(bits) + ".tif");
    Image copy = img;
    write_tiff(path, copy);
    expect_exact_round_trip(read_image(path), img, bits, path);  // libtiff decodes it
    fs::remove(path);
  }
}

// Pillow reads the large files the same: a weighted sum over every sample, computed on both sides.
TEST(ImageEncoders, PillowReadsTheLargeFilesTheSame) {
  if (std::system("/usr/bin/python3 -c 'import PIL' 2>/dev/null") != 0)
    GTEST_SKIP() << "no /usr/bin/python3 with Pillow";
  for (auto [extension, channels, bits] :
       {std::tuple{".png", 3, 8}, std::tuple{".tif", 3, 8}, std::tuple{".tif", 1, 16}}) {
    const Image img = encoder_test_image(1100, 900, channels, bits);
    const std::string path = temp_path(std::string("pillow_large") + extension), listing = path + ".txt";
    write_image(path, img);
    const std::string script =
        "from PIL import Image; im = Image.open('" + path +
        "'); "
        "vals = [v for p in im.getdata() for v in (p if isinstance(p, tuple) else (p,))]; "
        "print(im.size[0], im.size[1], len(vals), sum(v * (i % 251 + 1) for i, v in enumerate(vals)))";
    ASSERT_EQ(std::system(("/usr/bin/python3 -c \"" + script + "\" > " + listing).c_str()), 0) << path;
    std::ifstream in(listing);
    long long width = 0, height = 0, count = 0, checksum = -1;
    in >> width >> height >> count >> checksum;
    EXPECT_EQ(width, img.width);
    EXPECT_EQ(height, img.height);
    EXPECT_EQ(count, (long long)img.pixels.size());
    const std::size_t plane = std::size_t(img.width) * img.height;
    const float max = bits == 16 ? 65535.f : 255.f;
    long long ours = 0;
    for (std::size_t i = 0, k = 0; i < plane; ++i)
      for (int c = 0; c < channels; ++c, ++k)
        ours += (long long)detail::quantize(img.pixels[c * plane + i], max) * (long long)(k % 251 + 1);
    EXPECT_EQ(checksum, ours) << path;
    fs::remove(path), fs::remove(listing);
  }
}

}  // namespace
}  // namespace microsr
