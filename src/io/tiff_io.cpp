// TIFF through libtiff: reading 8/16-bit unsigned gray, gray+alpha, RGB, RGBA and palette images
// stored in strips or tiles, contiguous or separate planes; writing 8/16-bit Deflate TIFFs.
// libtiff's messages never reach stderr: each file gets handlers that collect its errors into the
// Error we throw, and drop its warnings.
#include <omp.h>
#include <tiffio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include "io/deflate.h"
#include "io/image_io_internal.h"

namespace microsr::detail {
namespace {

const char* const kSupported =
    "microsr reads 8- and 16-bit unsigned gray, gray+alpha, RGB, RGBA and 8-bit palette TIFFs";

int collect_error(TIFF*, void* user_data, const char* /*module*/, const char* format, va_list args) {
  char text[512];
  std::vsnprintf(text, sizeof text, format, args);
  auto& errors = *static_cast<std::string*>(user_data);
  if (errors.find(text) != std::string::npos) return 1;  // libtiff often repeats itself
  if (!errors.empty()) errors += "; ";
  errors += text;
  return 1;  // handled: libtiff calls no global handler
}
int drop_warning(TIFF*, void*, const char*, const char*, va_list) { return 1; }

// One open TIFF with its own message handlers; closed on destruction. Not copyable or movable:
// libtiff holds a pointer to `errors_`.
class TiffFile {
 public:
  // Opens `path` (fd < 0) or the already open `fd`, which libtiff then owns and closes.
  TiffFile(const std::string& path, const char* mode, int fd = -1) {
    TIFFOpenOptions* options = TIFFOpenOptionsAlloc();
    TIFFOpenOptionsSetErrorHandlerExtR(options, collect_error, &errors_);
    TIFFOpenOptionsSetWarningHandlerExtR(options, drop_warning, nullptr);
    tif_ = fd < 0 ? TIFFOpenExt(path.c_str(), mode, options) : TIFFFdOpenExt(fd, path.c_str(), mode, options);
    TIFFOpenOptionsFree(options);
  }
  TiffFile(const TiffFile&) = delete;
  TiffFile& operator=(const TiffFile&) = delete;
  ~TiffFile() { close(); }

  TIFF* get() const { return tif_; }
  void close() {
    if (tif_) TIFFClose(tif_);
    tif_ = nullptr;
  }
  const std::string& errors() const { return errors_; }
  void forget_errors() { errors_.clear(); }
  std::string reason(const std::string& fallback) const { return errors_.empty() ? fallback : errors_; }

 private:
  std::string errors_;
  TIFF* tif_ = nullptr;
};

template <class T>
T field_or(TIFF* tif, ttag_t tag, T fallback) {
  T value{};
  return TIFFGetField(tif, tag, &value) ? value : fallback;
}

std::string photometric_name(uint16_t photometric) {
  switch (photometric) {
    case PHOTOMETRIC_SEPARATED:
      return "CMYK (photometric \"separated\")";
    case PHOTOMETRIC_YCBCR:
      return "YCbCr colour";
    case PHOTOMETRIC_CIELAB:
    case PHOTOMETRIC_ICCLAB:
    case PHOTOMETRIC_ITULAB:
      return "Lab colour";
    case PHOTOMETRIC_MASK:
      return "a transparency mask";
    default:
      return "photometric interpretation " + std::to_string(photometric);
  }
}

// The layout of the samples in the file, checked against what we support.
struct TiffLayout {
  int64_t width = 0, height = 0;
  int samples_per_pixel = 0, bits = 0;
  uint16_t photometric = 0;
  bool separate_planes = false, tiled = false;
  int64_t block_width = 0, block_height = 0;  // tile size, or (width × rows per strip)
  bool premultiplied_alpha = false;
};

TiffLayout inspect(TIFF* tif, const std::string& path, int64_t max_pixels) {
  auto refuse = [&](const std::string& found) {
    throw Error("cannot read " + path + ": " + found + " is not supported (" + kSupported + ")");
  };
  TiffLayout l;
  l.width = field_or<uint32_t>(tif, TIFFTAG_IMAGEWIDTH, 0);
  l.height = field_or<uint32_t>(tif, TIFFTAG_IMAGELENGTH, 0);
  check_dimensions(path, l.width, l.height, max_pixels);
  l.samples_per_pixel = field_or<uint16_t>(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
  l.bits = field_or<uint16_t>(tif, TIFFTAG_BITSPERSAMPLE, 1);
  const uint16_t sample_format = field_or<uint16_t>(tif, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_UINT);
  const uint16_t compression = field_or<uint16_t>(tif, TIFFTAG_COMPRESSION, COMPRESSION_NONE);
  l.separate_planes = field_or<uint16_t>(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG) == PLANARCONFIG_SEPARATE;
  l.photometric =
      field_or<uint16_t>(tif, TIFFTAG_PHOTOMETRIC, l.samples_per_pixel >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);

  if (sample_format == SAMPLEFORMAT_IEEEFP) refuse(std::to_string(l.bits) + "-bit floating-point samples");
  if (sample_format == SAMPLEFORMAT_INT) refuse(std::to_string(l.bits) + "-bit signed integer samples");
  if (sample_format != SAMPLEFORMAT_UINT) refuse("sample format " + std::to_string(sample_format));
  if (!TIFFIsCODECConfigured(compression))
    refuse("compression scheme " + std::to_string(compression) + " (not built into this libtiff)");
  // JPEG-compressed YCbCr: let libtiff's JPEG codec hand us RGB.
  if (l.photometric == PHOTOMETRIC_YCBCR && compression == COMPRESSION_JPEG &&
      TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB))
    l.photometric = PHOTOMETRIC_RGB;

  int colour_samples = 0;
  switch (l.photometric) {
    case PHOTOMETRIC_MINISBLACK:
    case PHOTOMETRIC_MINISWHITE:
    case PHOTOMETRIC_PALETTE:
      colour_samples = 1;
      break;
    case PHOTOMETRIC_RGB:
      colour_samples = 3;
      break;
    default:
      refuse(photometric_name(l.photometric));
  }
  if (l.bits != 8 && l.bits != 16) refuse(std::to_string(l.bits) + "-bit samples");
  if (l.photometric == PHOTOMETRIC_PALETTE && l.bits != 8) refuse("a " + std::to_string(l.bits) + "-bit palette");
  const int extra = l.samples_per_pixel - colour_samples;
  if (extra < 0 || extra > 1 || (extra == 1 && l.photometric == PHOTOMETRIC_PALETTE))
    refuse(std::to_string(l.samples_per_pixel) + " samples per pixel with " + photometric_name(l.photometric) +
           (l.photometric == PHOTOMETRIC_PALETTE ? " (palette)" : ""));
  if (extra == 1) {  // the extra sample is alpha; unspecified counts as straight alpha
    uint16_t count = 0;
    uint16_t* types = nullptr;
    l.premultiplied_alpha =
        TIFFGetField(tif, TIFFTAG_EXTRASAMPLES, &count, &types) && count >= 1 && types[0] == EXTRASAMPLE_ASSOCALPHA;
  }

  l.tiled = TIFFIsTiled(tif);
  if (l.tiled) {
    l.block_width = field_or<uint32_t>(tif, TIFFTAG_TILEWIDTH, 0);
    l.block_height = field_or<uint32_t>(tif, TIFFTAG_TILELENGTH, 0);
  } else {
    l.block_width = l.width;
    l.block_height = std::min<int64_t>(field_or<uint32_t>(tif, TIFFTAG_ROWSPERSTRIP, UINT32_MAX), l.height);
  }
  // Compared by division: two 32-bit tile sides multiply past int64_t.
  if (l.block_width <= 0 || l.block_height <= 0 ||
      l.block_width > std::max<int64_t>(max_pixels, l.width) / l.block_height)
    throw Error("cannot read " + path + ": invalid " + (l.tiled ? "tile" : "strip") + " size " +
                std::to_string(l.block_width) + "×" + std::to_string(l.block_height));
  return l;
}

// Raw samples, planar: [samples_per_pixel][height][width]. Allocated with new[], not zero-filled:
// memory is taken only as strips arrive, so a damaged header that claims 16384×16384 pixels over a
// few bytes costs nothing before its first strip fails (a zeroed vector wrote 1.5 GiB first).
struct RawSamples {
  std::unique_ptr<uint16_t[]> values;
  std::size_t count = 0;
  uint16_t operator[](std::size_t i) const { return values[i]; }
  std::size_t size() const { return count; }
};

// Decodes every strip or tile into raw samples; every sample is written (or an Error thrown).
RawSamples decode_samples(TiffFile& file, const TiffLayout& l, const std::string& path) {
  TIFF* tif = file.get();
  const int planes = l.separate_planes ? l.samples_per_pixel : 1;
  const int samples_per_block_pixel = l.separate_planes ? 1 : l.samples_per_pixel;
  const int64_t bytes_per_sample = l.bits / 8;
  const tmsize_t block_bytes = l.tiled ? TIFFTileSize(tif) : TIFFStripSize(tif);
  if (block_bytes <= 0) throw Error("cannot read " + path + ": " + file.reason("invalid strip or tile size"));
  std::vector<uint8_t> block(block_bytes);
  const std::size_t plane_size = std::size_t(l.width) * l.height;
  RawSamples samples{std::make_unique_for_overwrite<uint16_t[]>(plane_size * l.samples_per_pixel),
                     plane_size * l.samples_per_pixel};

  for (int plane = 0; plane < planes; ++plane)
    for (int64_t y0 = 0; y0 < l.height; y0 += l.block_height)
      for (int64_t x0 = 0; x0 < l.width; x0 += l.block_width) {
        const char* kind = l.tiled ? "tile" : "strip";
        const uint32_t index = l.tiled ? TIFFComputeTile(tif, uint32_t(x0), uint32_t(y0), 0, uint16_t(plane))
                                       : TIFFComputeStrip(tif, uint32_t(y0), uint16_t(plane));
        const tmsize_t got = l.tiled ? TIFFReadEncodedTile(tif, index, block.data(), block_bytes)
                                     : TIFFReadEncodedStrip(tif, index, block.data(), block_bytes);
        const int64_t rows = std::min(l.block_height, l.height - y0), cols = std::min(l.block_width, l.width - x0);
        const int64_t needed = ((rows - 1) * l.block_width + cols) * samples_per_block_pixel * bytes_per_sample;
        if (got < needed || !file.errors().empty())
          throw Error("cannot read " + path + ": " + kind + " " + std::to_string(index) + " is corrupt or truncated (" +
                      file.reason("got " + std::to_string(got) + " of " + std::to_string(needed) + " bytes") + ")");
        // A block is row-major [rows][block_width][samples_per_block_pixel]; 16-bit samples come
        // from libtiff already in native byte order.
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < cols; ++c)
            for (int k = 0; k < samples_per_block_pixel; ++k) {
              const std::size_t at = std::size_t((r * l.block_width + c) * samples_per_block_pixel + k);
              uint16_t value = block[at];
              if (bytes_per_sample == 2) std::memcpy(&value, &block[2 * at], 2);
              samples.values[(plane + k) * plane_size + std::size_t((y0 + r) * l.width + x0 + c)] = value;
            }
      }
  return samples;
}

// Raw samples to the planar float image, by photometric interpretation.
void convert_samples(TIFF* tif, const TiffLayout& l, const RawSamples& samples, Image& img, const std::string& path) {
  const std::size_t n = std::size_t(l.width) * l.height;
  const float max = float((1 << l.bits) - 1);  // divided, as numpy's v / max in float32
  if (l.photometric == PHOTOMETRIC_PALETTE) {
    uint16_t *red = nullptr, *green = nullptr, *blue = nullptr;
    if (!TIFFGetField(tif, TIFFTAG_COLORMAP, &red, &green, &blue))
      throw Error("cannot read " + path + ": palette image without a ColorMap tag");
    // The ColorMap holds 16-bit values; like libtiff's own RGBA reader we keep the high byte, which
    // is right for writers that store v·257 (the spec) and for those that store v·256 (Pillow).
    // Some old writers stored 8-bit values (all entries < 256): those are taken as they are.
    bool eight_bit_map = true;
    for (int i = 0; i < 256; ++i) eight_bit_map &= red[i] < 256 && green[i] < 256 && blue[i] < 256;
    const int shift = eight_bit_map ? 0 : 8;
    for (std::size_t i = 0; i < n; ++i) {
      const uint16_t index = samples[i];  // < 256: 8-bit palettes only
      img.pixels[i] = float(red[index] >> shift) / 255.0f;
      img.pixels[n + i] = float(green[index] >> shift) / 255.0f;
      img.pixels[2 * n + i] = float(blue[index] >> shift) / 255.0f;
    }
    return;
  }
  for (std::size_t i = 0; i < samples.size(); ++i) img.pixels[i] = float(samples[i]) / max;
  const int colour = img.channels >= 3 ? 3 : 1;
  if (l.photometric == PHOTOMETRIC_MINISWHITE)
    for (std::size_t i = 0; i < n; ++i) img.pixels[i] = 1.0f - img.pixels[i];
  if (l.premultiplied_alpha) {  // stored colour = straight colour × alpha
    const float* alpha = img.plane(colour);
    for (int c = 0; c < colour; ++c)
      for (std::size_t i = 0; i < n; ++i) {
        float& v = img.plane(c)[i];
        v = alpha[i] > 0 ? std::min(v / alpha[i], 1.0f) : 0.0f;
      }
  }
}

ImageMetadata read_metadata(TIFF* tif) {
  ImageMetadata m;
  float x = 0, y = 0;
  if (TIFFGetField(tif, TIFFTAG_XRESOLUTION, &x) && TIFFGetField(tif, TIFFTAG_YRESOLUTION, &y) && x > 0 && y > 0) {
    m.has_resolution = true;
    m.x_resolution = x, m.y_resolution = y;
    m.resolution_unit = field_or<uint16_t>(tif, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
  }
  if (const char* text = field_or<const char*>(tif, TIFFTAG_IMAGEDESCRIPTION, nullptr)) m.description = text;
  double max_sample = 0;  // SMaxSampleValue: a 12-bit camera's 4095 in a 16-bit file
  if (TIFFGetField(tif, TIFFTAG_SMAXSAMPLEVALUE, &max_sample) && max_sample > 0) m.max_sample_value = max_sample;
  return m;
}

// The full-resolution pages of an open TIFF: every directory except those marked as reduced-
// resolution copies of another (NewSubfileType bit 0: thumbnails, pyramid levels). Leaves the
// file at its first directory.
int full_resolution_pages(TIFF* tif) {
  int pages = 0;
  do {
    uint32_t subfile = 0;
    if (!TIFFGetField(tif, TIFFTAG_SUBFILETYPE, &subfile) || !(subfile & FILETYPE_REDUCEDIMAGE)) ++pages;
  } while (TIFFReadDirectory(tif));
  TIFFSetDirectory(tif, 0);
  return pages;
}

}  // namespace

Image read_tiff(const std::string& path, int64_t max_pixels) {
  TiffFile file(path, "r");
  if (!file.get())
    throw Error("cannot read " + path + ": not a valid TIFF file (" + file.reason("libtiff could not open it") + ")");
  file.forget_errors();  // open succeeded: what it complained about was not fatal
  // A stack or a time series is several images: reading its first page alone would drop the
  // rest without a word, so it is refused (a thumbnail beside one image is not a page).
  const int pages = full_resolution_pages(file.get());
  file.forget_errors();
  if (pages > 1)
    throw Error("cannot read " + path + ": it is a multi-page TIFF (" + std::to_string(pages) +
                " full-resolution pages: a stack or a time series), and microsr reads one image per file; "
                "split it into one file per page first (for example with tiffsplit, from libtiff-tools)");
  const TiffLayout layout = inspect(file.get(), path, max_pixels);
  Image img;
  img.width = int(layout.width), img.height = int(layout.height);
  img.channels = layout.photometric == PHOTOMETRIC_PALETTE ? 3 : layout.samples_per_pixel;
  img.bit_depth = layout.photometric == PHOTOMETRIC_PALETTE ? 8 : layout.bits;
  img.metadata = read_metadata(file.get());
  const RawSamples samples = decode_samples(file, layout, path);
  allocate_pixels(path, img);
  convert_samples(file.get(), layout, samples, img, path);
  return img;
}

namespace {

// Rows [y0, y0 + rows) of the image as one Deflate TIFF strip with the horizontal predictor:
// quantized to 8 or 16 bits, interleaved [row][x][channel] in this machine's byte order (the
// file's: libtiff writes native order), each sample minus the same channel's sample one pixel
// to the left (modulo 2^bits; the first pixel of a row is kept), then one zlib stream.
std::vector<uint8_t> encode_strip(const Image& img, int y0, int64_t rows) {
  const int64_t y1 = std::min<int64_t>(img.height, y0 + rows);
  const std::size_t plane_size = std::size_t(img.width) * img.height;
  const int64_t row_samples = int64_t(img.width) * img.channels;
  const float max_value = img.bit_depth == 16 ? 65535.0f : 255.0f;
  auto predicted_rows = [&](auto* samples) {  // samples: uint8_t or uint16_t, [rows][row_samples]
    for (int64_t y = y0; y < y1; ++y) {
      using Sample = std::remove_reference_t<decltype(samples[0])>;
      Sample* row = samples + (y - y0) * row_samples;
      for (int c = 0; c < img.channels; ++c) {
        const float* src = img.pixels.data() + c * plane_size + std::size_t(y) * img.width;
        for (int x = 0; x < img.width; ++x)
          row[std::size_t(x) * img.channels + c] = Sample(quantize(src[x], max_value));
      }
      for (int64_t i = row_samples - 1; i >= img.channels; --i) row[i] = Sample(row[i] - row[i - img.channels]);
    }
  };
  const std::size_t count = std::size_t((y1 - y0) * row_samples);
  if (img.bit_depth == 8) {
    std::vector<uint8_t> samples(count);
    predicted_rows(samples.data());
    return zlib_compress(samples.data(), samples.size(), kImageDeflateLevel);
  }
  std::vector<uint16_t> samples(count);
  predicted_rows(samples.data());
  return zlib_compress(reinterpret_cast<const uint8_t*>(samples.data()), samples.size() * 2, kImageDeflateLevel);
}

}  // namespace

void write_tiff_to_fd(int fd, const std::string& path, const Image& img) {
  const int owned = ::dup(fd);  // libtiff closes the descriptor it is given; the caller keeps `fd`
  if (owned < 0) throw Error(std::strerror(errno));
  const int64_t bytes_per_sample = img.bit_depth / 8;
  const int64_t raw_bytes = int64_t(img.width) * img.height * img.channels * bytes_per_sample;
  TiffFile file(path, raw_bytes > (int64_t(1) << 31) ? "w8" : "w", owned);  // BigTIFF past 2 GiB
  if (!file.get()) {
    ::close(owned);
    throw Error(file.reason("libtiff could not start the file"));
  }
  TIFF* tif = file.get();
  const bool colour = img.channels >= 3, alpha = img.channels == 2 || img.channels == 4;
  const int64_t row_bytes = int64_t(img.width) * img.channels * bytes_per_sample;
  TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, uint32_t(img.width));
  TIFFSetField(tif, TIFFTAG_IMAGELENGTH, uint32_t(img.height));
  TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, uint16_t(img.channels));
  TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, uint16_t(img.bit_depth));
  TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_UINT);
  TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, colour ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
  TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
  TIFFSetField(tif, TIFFTAG_PREDICTOR, PREDICTOR_HORIZONTAL);
  const int64_t rows_per_strip = std::max<int64_t>(1, (256 << 10) / row_bytes);  // ~256 KiB strips
  TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, uint32_t(rows_per_strip));
  TIFFSetField(tif, TIFFTAG_SOFTWARE, "microsr");
  if (alpha) {
    const uint16_t straight = EXTRASAMPLE_UNASSALPHA;
    TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, uint16_t(1), &straight);
  }
  const ImageMetadata& m = img.metadata;
  if (m.has_resolution) {
    TIFFSetField(tif, TIFFTAG_XRESOLUTION, float(m.x_resolution));
    TIFFSetField(tif, TIFFTAG_YRESOLUTION, float(m.y_resolution));
    TIFFSetField(tif, TIFFTAG_RESOLUTIONUNIT, uint16_t(m.resolution_unit));
  }
  if (!m.description.empty()) TIFFSetField(tif, TIFFTAG_IMAGEDESCRIPTION, m.description.c_str());

  // Strips of rows_per_strip rows, each quantized from the planar floats into interleaved
  // [rows][width][channels] samples, differenced (the horizontal predictor) and deflated on its
  // own core; then written in order as raw strips. A group of strips at a time bounds the memory
  // to a few per core.
  const int64_t strips = (img.height + rows_per_strip - 1) / rows_per_strip;
  const int64_t group = 8 * std::max(1, omp_get_max_threads());
  std::vector<std::vector<uint8_t>> packed(std::size_t(std::min(group, strips)));
  for (int64_t first = 0; first < strips; first += group) {
    const int64_t count = std::min(group, strips - first);
    std::string failure;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t i = 0; i < count; ++i) {
      try {
        packed[std::size_t(i)] = encode_strip(img, int((first + i) * rows_per_strip), rows_per_strip);
      } catch (const Error& e) {
#pragma omp critical(microsr_tiff_strip_failure)
        failure = e.what();
      }
    }
    if (!failure.empty()) throw Error("cannot write " + path + ": " + failure);
    for (int64_t i = 0; i < count; ++i) {
      auto& bytes = packed[std::size_t(i)];
      if (TIFFWriteRawStrip(tif, uint32_t(first + i), bytes.data(), tmsize_t(bytes.size())) < 0)
        throw Error(file.reason("libtiff failed writing strip " + std::to_string(first + i)));
      std::vector<uint8_t>().swap(bytes);
    }
  }
  if (!TIFFWriteDirectory(tif) || !TIFFFlush(tif) || !file.errors().empty())
    throw Error(file.reason("libtiff failed finishing the file (disk full?)"));
  file.close();
  if (!file.errors().empty()) throw Error(file.errors());
}

}  // namespace microsr::detail
