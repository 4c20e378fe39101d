// Image I/O against fixtures written by independent libraries (Pillow, tifffile + imagecodecs, and
// hand-crafted headers): tests/data/images/, made by tools/make_image_fixtures.py. Lossless
// fixtures must decode exactly to the script's pattern(); our written files must read back exactly
// at their quantized values and, when Debian's Pillow is present, read the same in Pillow.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "io/image_io_internal.h"
#include "microsr/image_io.h"
#include "test_helpers.h"

namespace microsr {
namespace {

using namespace microsr::testing;
namespace fs = std::filesystem;

constexpr int kWidth = 21, kHeight = 19;  // the fixtures' size

std::string image_fixture(const std::string& name) { return data_path("images/" + name); }

// pattern() of tools/make_image_fixtures.py: sample (c, y, x) of a fixture with `bits` per sample.
uint32_t fixture_value(int bits, int c, int y, int x) {
  if (x == 0 && y == 0) return 0;
  if (x == kWidth - 1 && y == kHeight - 1) return (1u << bits) - 1;
  return bits == 8 ? (37 * x + 91 * y + 53 * c + 11) % 256 : (7919u * x + 3571u * y + 12347u * c + 1) % 65536;
}

float sample(const Image& img, int c, int y, int x) { return img.plane(c)[std::size_t(y) * img.width + x]; }

// Every sample equals expected(c, y, x) / max to within 0.01 of a level: float32 holds v / 65535
// to 2^-24 relative, i.e. 0.004 of a 16-bit level, while a wrong level is off by 1.
constexpr double kLevelTolerance = 0.01;
template <class Expected>
void expect_samples(const Image& img, int channels, float max, Expected expected, const std::string& what) {
  ASSERT_EQ(img.width, kWidth) << what;
  ASSERT_EQ(img.height, kHeight) << what;
  ASSERT_EQ(img.channels, channels) << what;
  ASSERT_EQ(img.pixels.size(), std::size_t(kWidth) * kHeight * channels) << what;
  int wrong = 0;
  for (int c = 0; c < channels; ++c)
    for (int y = 0; y < kHeight; ++y)
      for (int x = 0; x < kWidth; ++x) {
        const double got = double(sample(img, c, y, x)) * max, want = expected(c, y, x);
        if (!(std::abs(got - want) <= kLevelTolerance) && wrong++ < 3)
          ADD_FAILURE() << what << ": sample (c" << c << ", y" << y << ", x" << x << ") is " << got << ", expected "
                        << want;
      }
}

void expect_pattern(const Image& img, int bits, int channels, const std::string& what) {
  EXPECT_EQ(img.bit_depth, bits) << what;
  expect_samples(
      img, channels, float((1u << bits) - 1), [&](int c, int y, int x) { return double(fixture_value(bits, c, y, x)); },
      what);
}

const std::pair<const char*, int> kLayouts[] = {{"gray", 1}, {"ga", 2}, {"rgb", 3}, {"rgba", 4}};

TEST(ImageIO, ReadsEveryTiffDepthLayoutCompressionAndBlockShape) {
  for (int bits : {8, 16})
    for (auto [layout, channels] : kLayouts)
      for (const char* compression : {"none", "lzw", "deflate", "packbits"})
        for (const char* blocks : {"strips", "tiles"}) {
          const std::string name =
              "tiff/u" + std::to_string(bits) + "_" + layout + "_" + compression + "_" + blocks + ".tif";
          EXPECT_EQ(detect_image_format(image_fixture(name)), ImageFormat::tiff) << name;
          expect_pattern(read_image(image_fixture(name)), bits, channels, name);
        }
}

TEST(ImageIO, ReadsTiffVariants) {
  for (const char* name : {"u8_rgb_separate_strips.tif", "u8_rgb_separate_tiles.tif"})
    expect_pattern(read_image(image_fixture(std::string("tiff/") + name)), 8, 3, name);
  for (const char* name : {"u16_rgb_separate_strips.tif", "u16_rgb_separate_tiles.tif", "u16_rgb_bigendian.tif"})
    expect_pattern(read_image(image_fixture(std::string("tiff/") + name)), 16, 3, name);
  expect_pattern(read_image(image_fixture("tiff/u8_rgb_bigtiff.tif")), 8, 3, "BigTIFF");

  const Image white_is_zero = read_image(image_fixture("tiff/u8_gray_miniswhite.tif"));
  expect_samples(
      white_is_zero, 1, 255.0f, [](int c, int y, int x) { return 255.0 - fixture_value(8, c, y, x); }, "MinIsWhite");

  // Palette: index = 8-bit pattern of channel 0; colour i = (3i mod 256, 255 - i, 7i mod 256),
  // stored by Pillow as 16-bit entries v·256.
  const Image palette = read_image(image_fixture("tiff/u8_palette.tif"));
  EXPECT_EQ(palette.bit_depth, 8);
  expect_samples(
      palette, 3, 255.0f,
      [](int c, int y, int x) {
        const int i = int(fixture_value(8, 0, y, x));
        return double(c == 0 ? (3 * i) % 256 : c == 1 ? 255 - i : (7 * i) % 256);
      },
      "palette");

  // Premultiplied alpha comes back straight: colour = stored / alpha (0 where alpha is 0).
  const Image premultiplied = read_image(image_fixture("tiff/u8_rgba_assocalpha.tif"));
  expect_samples(
      premultiplied, 4, 1.0f,
      [](int c, int y, int x) {
        const double alpha = fixture_value(8, 3, y, x);
        if (c == 3) return alpha / 255.0;
        const double stored = (fixture_value(8, c, y, x) * uint32_t(alpha) + 127) / 255;
        return alpha > 0 ? std::min(stored / alpha, 1.0) : 0.0;
      },
      "associated alpha");
}

TEST(ImageIO, ReadsTiffResolutionAndDescription) {
  const Image img = read_image(image_fixture("tiff/u16_gray_resolution.tif"));
  expect_pattern(img, 16, 1, "resolution fixture");
  ASSERT_TRUE(img.metadata.has_resolution);
  EXPECT_DOUBLE_EQ(img.metadata.x_resolution, 25000);
  EXPECT_DOUBLE_EQ(img.metadata.y_resolution, 12500);
  EXPECT_EQ(img.metadata.resolution_unit, 3);  // centimetre
  EXPECT_EQ(img.metadata.description, "objective 4X; 0.4 um/px");
  const ImageMetadata x4 = scale_resolution(img.metadata, 4);
  EXPECT_DOUBLE_EQ(x4.x_resolution, 100000);
  EXPECT_DOUBLE_EQ(x4.y_resolution, 50000);
  EXPECT_EQ(x4.resolution_unit, 3);
  EXPECT_EQ(x4.description, img.metadata.description);
}

// Lossy fixtures: compared with what Pillow decodes from the same file. Our decoders (stb_image,
// libtiff + system libjpeg) and Pillow's libjpeg-turbo may round the inverse DCT and colour
// conversion differently: allow 2 levels of 255.
double max_level_difference(const Image& img, const std::vector<uint8_t>& interleaved) {
  double worst = 0;
  for (int c = 0; c < img.channels; ++c)
    for (int i = 0; i < img.width * img.height; ++i)
      worst = std::max(worst, std::abs(img.plane(c)[i] * 255.0 - interleaved[std::size_t(i) * img.channels + c]));
  return worst;
}

TEST(ImageIO, ReadsJpegAndJpegInTiffWithinTwoLevelsOfPillow) {
  for (auto [name, expected, channels] :
       {std::tuple{"jpeg/gray.jpg", "jpeg/gray.expected.u8", 1}, std::tuple{"jpeg/rgb.jpg", "jpeg/rgb.expected.u8", 3},
        std::tuple{"tiff/u8_rgb_jpeg.tif", "tiff/u8_rgb_jpeg.expected.u8", 3}}) {
    const Image img = read_image(image_fixture(name));
    ASSERT_EQ(img.channels, channels) << name;
    ASSERT_EQ(img.width, kWidth) << name;
    EXPECT_EQ(img.bit_depth, 8) << name;
    EXPECT_LE(max_level_difference(img, read_bytes(image_fixture(expected))), 2.0 + kLevelTolerance) << name;
  }
}

TEST(ImageIO, ReadsPngAtBothDepthsAndBmp) {
  for (int bits : {8, 16})
    for (auto [layout, channels] : kLayouts) {
      const std::string name = "png/u" + std::to_string(bits) + "_" + layout + ".png";
      EXPECT_EQ(detect_image_format(image_fixture(name)), ImageFormat::png);
      expect_pattern(read_image(image_fixture(name)), bits, channels, name);
    }
  EXPECT_EQ(detect_image_format(image_fixture("bmp/rgb.bmp")), ImageFormat::bmp);
  expect_pattern(read_image(image_fixture("bmp/rgb.bmp")), 8, 3, "bmp/rgb.bmp");
  // An 8-bit gray BMP is a palette image: stb_image expands it to three equal channels.
  expect_samples(
      read_image(image_fixture("bmp/gray.bmp")), 3, 255.0f,
      [](int, int y, int x) { return double(fixture_value(8, 0, y, x)); }, "bmp/gray.bmp");
}

TEST(ImageIO, DetectsTheFormatByContentNotExtension) {
  const std::string disguised = temp_path("really_a_png.tif");
  fs::copy_file(image_fixture("png/u8_rgb.png"), disguised, fs::copy_options::overwrite_existing);
  EXPECT_EQ(detect_image_format(disguised), ImageFormat::png);
  expect_pattern(read_image(disguised), 8, 3, "PNG named .tif");
  write_bytes(disguised, {'G', 'I', 'F', '8', '9', 'a', 0, 0});
  expect_error([&] { read_image(disguised); }, "not a PNG, JPEG, BMP or TIFF file (it starts with bytes 47 49 46 38");
  fs::remove(disguised);
}

// ---- writing ---------------------------------------------------------------------------------

// An image whose samples cover the awkward cases: exact levels, half levels, out of range, NaN.
Image make_test_image(int channels, int bit_depth) {
  Image img;
  img.width = 11, img.height = 5, img.channels = channels, img.bit_depth = bit_depth;
  img.pixels.resize(std::size_t(11) * 5 * channels);
  for (std::size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = float((i * 7919) % 1000) / 999.0f;
  img.pixels[0] = -0.25f, img.pixels[1] = 1.5f, img.pixels[2] = NAN, img.pixels[3] = 0.5f, img.pixels[4] = 1.0f;
  img.pixels[5] = 1000.4f / 65535.0f;  // 16-bit keeps level 1000, 8-bit rounds it to 4
  return img;
}

// floor(clamp(v) * max + 0.5), computed here in double as the independent statement of the rule.
double quantized(float v, double max) {
  return std::isnan(v) ? 0.0 : std::floor(std::clamp(double(v), 0.0, 1.0) * max + 0.5);
}

void expect_quantized(const Image& got, const Image& written, int bit_depth, const std::string& what) {
  ASSERT_EQ(got.width, written.width) << what;
  ASSERT_EQ(got.height, written.height) << what;
  ASSERT_EQ(got.channels, written.channels) << what;
  EXPECT_EQ(got.bit_depth, bit_depth) << what;
  const double max = bit_depth == 16 ? 65535 : 255;
  int wrong = 0;
  for (std::size_t i = 0; i < got.pixels.size(); ++i)
    if (!(std::abs(got.pixels[i] * max - quantized(written.pixels[i], max)) <= kLevelTolerance) && wrong++ < 3)
      ADD_FAILURE() << what << ": sample " << i << " wrote " << written.pixels[i] << ", read " << got.pixels[i] * max
                    << " levels, expected " << quantized(written.pixels[i], max);
}

TEST(ImageIO, QuantizesByRoundingHalfUpAfterClamping) {
  EXPECT_EQ(detail::quantize(0.5f, 255), 128u);  // 127.5 -> 128
  EXPECT_EQ(detail::quantize(0.5f, 65535), 32768u);
  EXPECT_EQ(detail::quantize(-1.0f, 255), 0u);
  EXPECT_EQ(detail::quantize(2.0f, 65535), 65535u);
  EXPECT_EQ(detail::quantize(NAN, 255), 0u);
  EXPECT_EQ(detail::quantize(1000.4f / 65535.0f, 65535), 1000u);
}

TEST(ImageIO, TiffRoundTripsEveryDepthAndLayoutWithMetadata) {
  for (int bits : {8, 16})
    for (int channels = 1; channels <= 4; ++channels) {
      Image img = make_test_image(channels, bits);
      img.metadata.has_resolution = true;
      img.metadata.x_resolution = 2500.5, img.metadata.y_resolution = 1250, img.metadata.resolution_unit = 3;
      img.metadata.description = "round trip";
      const std::string path =
          temp_path("round_trip_" + std::to_string(bits) + "_" + std::to_string(channels) + ".tiff");
      write_image(path, img);  // format from the extension
      const Image back = read_image(path);
      expect_quantized(back, img, bits, path);
      EXPECT_TRUE(back.metadata.has_resolution);
      EXPECT_NEAR(back.metadata.x_resolution, 2500.5, 1e-3);  // stored as a TIFF rational
      EXPECT_NEAR(back.metadata.y_resolution, 1250, 1e-3);
      EXPECT_EQ(back.metadata.resolution_unit, 3);
      EXPECT_EQ(back.metadata.description, "round trip");
      fs::remove(path);
    }
}

TEST(ImageIO, PngRoundTripsAt8BitsAndReduces16BitImages) {
  for (int bits : {8, 16})
    for (int channels = 1; channels <= 4; ++channels) {
      const Image img = make_test_image(channels, bits);
      const std::string path =
          temp_path("round_trip_" + std::to_string(bits) + "_" + std::to_string(channels) + ".png");
      write_png(path, img);
      expect_quantized(read_image(path), img, 8, path);  // PNG output is always 8-bit
      fs::remove(path);
    }
}

// Debian's Pillow (an independent decoder) reads what we wrote; skipped where it is missing.
TEST(ImageIO, PillowReadsOurFiles) {
  if (std::system("/usr/bin/python3 -c 'import PIL' 2>/dev/null") != 0)
    GTEST_SKIP() << "no /usr/bin/python3 with Pillow";
  for (auto [bits, channels, extension] :
       {std::tuple{8, 4, ".tif"}, std::tuple{16, 1, ".tif"}, std::tuple{8, 3, ".tif"}, std::tuple{8, 2, ".png"},
        std::tuple{8, 4, ".png"}}) {
    const Image img = make_test_image(channels, bits);
    const std::string path = temp_path("for_pillow" + std::string(extension)), listing = path + ".txt";
    write_image(path, img);
    const std::string script =
        "from PIL import Image; im = Image.open('" + path +
        "'); px = list(im.getdata()); "
        "print(im.size[0], im.size[1], ' '.join(str(v) for p in px for v in (p if isinstance(p, tuple) else (p,))))";
    ASSERT_EQ(std::system(("/usr/bin/python3 -c \"" + script + "\" > " + listing).c_str()), 0) << path;
    std::ifstream in(listing);
    int width = 0, height = 0;
    in >> width >> height;
    ASSERT_EQ(width, img.width);
    ASSERT_EQ(height, img.height);
    const double max = bits == 16 ? 65535 : 255;
    const std::size_t plane = std::size_t(width) * height;
    for (std::size_t i = 0; i < plane; ++i)
      for (int c = 0; c < channels; ++c) {
        double v = -1;
        in >> v;
        ASSERT_EQ(v, quantized(img.pixels[c * plane + i], max)) << path << " pixel " << i << " channel " << c;
      }
    fs::remove(path), fs::remove(listing);
  }
}

// ---- bad input -----------------------------------------------------------------------------

TEST(ImageIO, RefusesAbsurdAndEmptyDimensionsBeforeAllocating) {
  expect_error([] { read_image(image_fixture("bad/huge.tif")); },
               "100000×100000 = 10000000000 pixels, more than the limit");
  expect_error([] { read_image(image_fixture("bad/huge.png")); },
               "100000×100000 = 10000000000 pixels, more than the limit");
  // libtiff itself refuses a zero width while opening the file; its reason is passed on.
  expect_error([] { read_image(image_fixture("bad/zero.tif")); },
               "bad/zero.tif: not a valid TIFF file (Computed scanline size is zero");
  expect_error([] { read_image(image_fixture("bad/zero.png")); }, "13×0 (no pixels)");
  for (const char* name : {"png/u8_rgb.png", "jpeg/rgb.jpg", "bmp/rgb.bmp", "tiff/u8_rgb_lzw_tiles.tif"})
    expect_error([&] { read_image(image_fixture(name), 398); }, "21×19 = 399 pixels, more than the limit of 398");
}

// u8_rgb.png with its IHDR claiming width × height (the CRC is not checked before the size is).
std::string png_claiming(uint32_t width, uint32_t height, const std::string& name) {
  std::vector<uint8_t> bytes = read_bytes(image_fixture("png/u8_rgb.png"));
  for (int i = 0; i < 4; ++i)
    bytes[16 + i] = uint8_t(width >> (24 - 8 * i)), bytes[20 + i] = uint8_t(height >> (24 - 8 * i));
  const std::string path = temp_path(name);
  write_bytes(path, bytes);
  return path;
}

// Found by tools/fuzz_and_sanitize.sh: 4294967295 × 4294967295 overflowed int64_t (UBSan), and the
// wrapped product passed the limit; it must be refused by the limit like any other size.
TEST(ImageIO, SizesWhoseProductOverflowsAreRefusedByTheLimit) {
  const std::string path = png_claiming(0xffffffff, 0xffffffff, "overflow.png");
  expect_error([&] { read_image(path); }, "4294967295×4294967295 = more than 2^63 pixels, more than the limit");
  fs::remove(path);
}

long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// Found by tools/fuzz_and_sanitize.sh: a 184-byte PNG whose header claims 16384×16384 pixels (just
// within the limit) made microsr allocate and zero 3 GiB of floats before stb found the data
// missing. The decoder must refuse it first. (The peak can only grow: when earlier tests in this
// process have raised it, the check passes trivially; ctest runs each test in a process of its own.)
TEST(ImageIO, AHugeHeaderOverLittleDataIsRefusedBeforeAllocating) {
  const std::string path = png_claiming(16384, 16384, "claims_16384.png");
  const long before = peak_rss_kib();
  expect_error([&] { read_image(path); }, "corrupt or truncated PNG data");
  EXPECT_LT(peak_rss_kib() - before, 1L << 20) << "KiB more at the peak for a file of 184 bytes";
  fs::remove(path);
}

// The same for TIFF: a deflated 21×19 strip under a header that claims 16384×16384 pixels. The
// raw samples of the whole image were zero-filled (1.5 GiB) before the first strip was read.
TEST(ImageIO, AHugeTiffHeaderOverLittleDataIsRefusedBeforeAllocating) {
  std::vector<uint8_t> bytes = read_bytes(image_fixture("tiff/u8_rgb_deflate_strips.tif"));
  auto le = [&](std::size_t at, int n) {
    return n == 2 ? bytes[at] | bytes[at + 1] << 8
                  : bytes[at] | bytes[at + 1] << 8 | bytes[at + 2] << 16 | uint32_t(bytes[at + 3]) << 24;
  };
  const std::size_t ifd = le(4, 4);
  int patched = 0;
  for (std::size_t e = ifd + 2; e < ifd + 2 + 12 * std::size_t(le(ifd, 2)); e += 12)
    if (le(e, 2) == 256 || le(e, 2) == 257) {  // ImageWidth, ImageLength: SHORT or LONG, inline
      bytes[e + 8] = 0x00, bytes[e + 9] = 0x40, bytes[e + 10] = 0, bytes[e + 11] = 0;  // 16384
      ++patched;
    }
  ASSERT_EQ(patched, 2);
  const std::string path = temp_path("claims_16384.tif");
  write_bytes(path, bytes);
  const long before = peak_rss_kib();
  expect_error([&] { read_image(path); }, "is corrupt or truncated");
  EXPECT_LT(peak_rss_kib() - before, 1L << 20) << "KiB more at the peak for a file of " << bytes.size() << " bytes";
  fs::remove(path);
}

TEST(ImageIO, RefusesUnsupportedTiffLayoutsNamingWhatItFound) {
  for (auto [name, found] :
       {std::pair{"bad_float32.tif", "32-bit floating-point samples is not supported"},
        std::pair{"bad_uint32.tif", "32-bit samples is not supported"},
        std::pair{"bad_int16.tif", "16-bit signed integer samples is not supported"}, std::pair{"bad_cmyk.tif", "CMYK"},
        std::pair{"bad_rgb_two_extras.tif", "5 samples per pixel"},
        std::pair{"bad_bilevel.tif", "1-bit samples is not supported"}}) {
    const std::string path = image_fixture(std::string("tiff/") + name);
    expect_error([&] { read_image(path); }, found);
    expect_error([&] { read_image(path); }, "cannot read " + path);
  }
}

// Debian's stb_image would write out of bounds on this; we refuse it first (found by the fuzz test
// below under -fsanitize=undefined).
TEST(ImageIO, RefusesJpegHuffmanTablesWithTooManyCodes) {
  std::vector<uint8_t> bytes = read_bytes(image_fixture("jpeg/rgb.jpg"));
  std::size_t dht = 2;
  while (!(bytes[dht] == 0xff && bytes[dht + 1] == 0xc4)) dht += 2 + (bytes[dht + 2] << 8 | bytes[dht + 3]);
  bytes[dht + 5] = 255, bytes[dht + 6] = 255;  // the first table's counts of 1- and 2-bit codes: 510 codes
  const std::string path = temp_path("bad_huffman.jpg");
  write_bytes(path, bytes);
  expect_error([&] { read_image(path); }, "corrupt JPEG (a Huffman table declares");
  // Found by tools/fuzz_and_sanitize.sh: with the first table's counts zeroed, stb reads the next
  // table header from inside the first table's codes, where fewer than 17 bytes of the segment
  // remain, and gets 714 codes; the check has to read it there too.
  bytes = read_bytes(image_fixture("jpeg/rgb.jpg"));
  std::fill(bytes.begin() + dht + 5, bytes.begin() + dht + 21, 0);
  write_bytes(path, bytes);
  expect_error([&] { read_image(path); }, "corrupt JPEG (a Huffman table declares 714 codes");
  fs::remove(path);
}

TEST(ImageIO, RefusesUnreadablePaths) {
  expect_error([] { read_image("/nonexistent/microsr/image.png"); },
               "cannot read /nonexistent/microsr/image.png: No such file");
  expect_error([] { read_image(::testing::TempDir()); }, "it is a folder, not an image");
  const std::string empty = temp_path("empty.png");
  write_bytes(empty, {});
  expect_error([&] { read_image(empty); }, "the file is empty");
  fs::remove(empty);
}

// Truncated and byte-flipped copies of each kind of fixture must give microsr::Error or a valid
// image, never a crash or another exception (run once under -fsanitize=address with
// MICROSR_FUZZ_EVERY_BYTE=1). Cutting a file in half must always be an Error.
TEST(ImageIO, TruncatedOrCorruptFilesGiveErrorsNotCrashes) {
  const std::string scratch = temp_path("fuzz.img");
  for (const char* name :
       {"png/u8_rgba.png", "png/u16_rgb.png", "jpeg/rgb.jpg", "bmp/rgb.bmp", "tiff/u8_rgb_deflate_strips.tif",
        "tiff/u16_rgba_lzw_tiles.tif", "tiff/u8_ga_packbits_strips.tif", "tiff/u16_rgb_separate_tiles.tif",
        "tiff/u8_rgb_bigtiff.tif", "tiff/u8_rgb_jpeg.tif", "tiff/u8_palette.tif"}) {
    const std::vector<uint8_t> bytes = read_bytes(image_fixture(name));
    auto survives = [&](const std::vector<uint8_t>& damaged, const std::string& how) {
      fs::remove(scratch);  // truncating a just-read file in place costs ~10 ms on ext4; a new file does not
      write_bytes(scratch, damaged);
      try {
        const Image img = read_image(scratch);
        EXPECT_EQ(img.pixels.size(), std::size_t(img.width) * img.height * img.channels) << name << " " << how;
        return true;
      } catch (const Error&) {
        return false;
      } catch (const std::exception& e) {
        ADD_FAILURE() << name << " " << how << ": " << e.what();
        return false;
      }
    };
    EXPECT_FALSE(survives(std::vector<uint8_t>(bytes.begin(), bytes.begin() + bytes.size() / 2), "cut in half"))
        << name;
    for (std::size_t length = 0; length < bytes.size(); length += fuzz_stride(7))
      survives(std::vector<uint8_t>(bytes.begin(), bytes.begin() + length), "cut to " + std::to_string(length));
    for (std::size_t at = 0; at < bytes.size(); at += fuzz_stride(5)) {
      std::vector<uint8_t> flipped = bytes;
      flipped[at] ^= 0xff;
      survives(flipped, "byte " + std::to_string(at) + " flipped");
    }
  }
  fs::remove(scratch);
}

std::vector<std::string> partial_files(const std::string& folder) {
  std::vector<std::string> found;
  for (const auto& entry : fs::directory_iterator(folder))
    if (entry.path().filename().string().find(".partial-") != std::string::npos) found.push_back(entry.path().string());
  return found;
}

TEST(ImageIO, UnwritableOutputsGiveClearErrors) {
  const Image img = make_test_image(3, 8);
  expect_error([&] { write_png("/nonexistent/microsr/out.png", img); },
               "cannot write /nonexistent/microsr/out.png: the folder /nonexistent/microsr does not exist");
  const std::string file = temp_path("plain_file");
  write_bytes(file, {1, 2, 3});
  expect_error([&] { write_tiff(file + "/out.tif", img); }, "is not a folder");
  expect_error([&] { write_image(temp_path("out.jpg"), img); }, "unknown output extension \".jpg\"");
  expect_error([&] { write_image(temp_path("out.bmp"), img, ImageFormat::bmp); }, "writing BMP is not supported");
  Image broken = img;
  broken.channels = 5;
  expect_error([&] { write_png(temp_path("five.png"), broken); }, "has 5 channels");
  fs::remove(file);

  if (::geteuid() == 0) return;  // root writes anywhere: a read-only folder proves nothing
  const std::string locked = temp_path("read_only_folder");
  fs::create_directories(locked);
  ::chmod(locked.c_str(), 0500);
  expect_error([&] { write_png(locked + "/out.png", img); }, "cannot create a file in " + locked);
  ::chmod(locked.c_str(), 0700);
  fs::remove_all(locked);
}

TEST(ImageIO, WritesAreAtomic) {
  const std::string folder = temp_path("atomic");
  fs::create_directories(folder);
  const std::string target = folder + "/out.png";
  write_bytes(target, {'o', 'l', 'd'});

  // A failure after the temporary file has bytes in it: the target keeps its old content.
  expect_error(
      [&] {
        detail::write_file_atomically(target, [](int fd) {
          ASSERT_EQ(::write(fd, "half an image", 13), 13);
          throw Error("disk on fire");
        });
      },
      "cannot write " + target + ": disk on fire");
  EXPECT_EQ(read_bytes(target), (std::vector<uint8_t>{'o', 'l', 'd'}));
  EXPECT_TRUE(partial_files(folder).empty());

  // The rename fails (the target is a folder): the finished temporary file is removed too.
  fs::create_directories(folder + "/taken.tif");
  expect_error([&] { write_tiff(folder + "/taken.tif", make_test_image(4, 16)); }, "renaming the finished file failed");
  EXPECT_TRUE(partial_files(folder).empty());

  // Success replaces the old content and leaves nothing else behind.
  write_png(target, make_test_image(4, 8));
  EXPECT_EQ(read_image(target).channels, 4);
  EXPECT_TRUE(partial_files(folder).empty());
  fs::remove_all(folder);
}

}  // namespace
}  // namespace microsr
