// Format detection, PNG/JPEG/BMP through stb_image, the atomic file writer, and the image <->
// tensor conversions. PNG output lives in png_encode.cpp, TIFF in tiff_io.cpp.
#include "microsr/image_io.h"

#include <fcntl.h>
#include <stb_image.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

#include "io/file_bytes.h"
#include "io/image_io_internal.h"

namespace fs = std::filesystem;

namespace microsr {
namespace {

std::string errno_text() { return std::strerror(errno); }

// The whole file, or the first `limit` bytes of it.
std::vector<uint8_t> read_file_bytes(const std::string& path, std::size_t limit = SIZE_MAX) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw Error("cannot read " + path + ": it is a folder, not an image");
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!file) throw Error("cannot read " + path + ": " + errno_text());
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  while (bytes.size() < limit) {
    const std::size_t n = std::fread(chunk, 1, std::min(sizeof chunk, limit - bytes.size()), file.get());
    bytes.insert(bytes.end(), chunk, chunk + n);
    if (n == 0) break;
  }
  if (std::ferror(file.get())) throw Error("cannot read " + path + ": " + errno_text());
  return bytes;
}

ImageFormat format_of_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  auto starts = [&](std::initializer_list<uint8_t> magic) {
    return b.size() >= magic.size() && std::equal(magic.begin(), magic.end(), b.begin());
  };
  if (starts({0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'})) return ImageFormat::png;
  if (starts({0xff, 0xd8, 0xff})) return ImageFormat::jpeg;
  if (starts({'B', 'M'})) return ImageFormat::bmp;
  // Classic TIFF is version 42, BigTIFF 43, in either byte order.
  if (starts({'I', 'I', 42, 0}) || starts({'M', 'M', 0, 42}) || starts({'I', 'I', 43, 0}) || starts({'M', 'M', 0, 43}))
    return ImageFormat::tiff;
  if (b.empty()) throw Error("cannot read " + path + ": the file is empty");
  char first[40] = "";
  for (std::size_t i = 0; i < std::min<std::size_t>(b.size(), 8); ++i) std::snprintf(first + 3 * i, 4, "%02x ", b[i]);
  throw Error("cannot read " + path + ": not a PNG, JPEG, BMP or TIFF file (it starts with bytes " +
              std::string(first) + ")");
}

// A PNG's size is in its IHDR chunk at bytes 16..23 (big-endian). Read here so that absurd sizes
// get our message rather than stb's generic "too large".
void check_png_header(const std::string& path, const std::vector<uint8_t>& b, int64_t max_pixels) {
  if (b.size() < 24 || std::memcmp(&b[12], "IHDR", 4) != 0)
    throw Error("cannot read " + path + ": PNG header is truncated or has no IHDR chunk");
  auto be32 = [&](std::size_t at) { return int64_t(b[at]) << 24 | b[at + 1] << 16 | b[at + 2] << 8 | b[at + 3]; };
  detail::check_dimensions(path, be32(16), be32(20), max_pixels);
}

// Debian's stb_image (2022) writes past its Huffman arrays when a JPEG table (DHT segment) declares
// more than 256 codes. Walk the marker segments and refuse such tables before stb sees the file.
void check_jpeg_huffman_tables(const std::string& path, const std::vector<uint8_t>& b) {
  std::size_t i = 2;  // after the SOI marker
  while (i + 4 <= b.size()) {
    const uint8_t marker = b[i + 1];
    if (b[i] != 0xff || marker == 0xff) {
      ++i;
      continue;
    }  // entropy-coded data or fill bytes
    if (marker == 0x00 || marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2;
      continue;
    }                            // no length
    if (marker == 0xd9) return;  // end of image
    const std::size_t length = std::size_t(b[i + 2]) << 8 | b[i + 3], end = std::min(b.size(), i + 2 + length);
    // DHT: tables of [class/id][16 code counts][the codes]. stb reads a whole table header while
    // any byte of the segment is left, even past the segment's end, so the walk does too.
    if (marker == 0xc4)
      for (std::size_t table = i + 4; table < end;) {
        std::size_t codes = 0;
        for (std::size_t k = 1; k <= 16 && table + k < b.size(); ++k) codes += b[table + k];
        if (codes > 256)
          throw Error("cannot read " + path + ": corrupt JPEG (a Huffman table declares " + std::to_string(codes) +
                      " codes, at most 256 are possible)");
        table += 17 + codes;
      }
    i += 2 + std::max<std::size_t>(length, 2);
  }
}

// stb_image pads a short BMP with black; refuse one whose pixel array is cut off. Only uncompressed
// (BI_RGB) and bit-field BMPs with a 40+ byte info header have a size we can compute.
void check_bmp_length(const std::string& path, const std::vector<uint8_t>& b, int64_t width, int64_t height) {
  if (b.size() < 34) return;  // too short for stb too: it reports the error
  auto le = [&](std::size_t at, int n) {
    int64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = v << 8 | b[at + i];
    return v;
  };
  const int64_t pixel_offset = le(10, 4), info_size = le(14, 4), bits = le(28, 2), compression = le(30, 4);
  if (info_size < 40 || (compression != 0 && compression != 3)) return;
  const int64_t needed = pixel_offset + (width * bits + 31) / 32 * 4 * height;
  if (int64_t(b.size()) < needed)
    throw Error("cannot read " + path + ": BMP pixel data is truncated (the file has " + std::to_string(b.size()) +
                " bytes, its header needs " + std::to_string(needed) + ")");
}

Image read_with_stb(const std::string& path, const std::vector<uint8_t>& bytes, ImageFormat format,
                    int64_t max_pixels) {
  if (format == ImageFormat::png) check_png_header(path, bytes, max_pixels);
  if (format == ImageFormat::jpeg) check_jpeg_huffman_tables(path, bytes);
  const auto* data = bytes.data();
  const int size = int(std::min<std::size_t>(bytes.size(), INT32_MAX));
  int w = 0, h = 0, c = 0;
  if (!stbi_info_from_memory(data, size, &w, &h, &c))
    throw Error("cannot read " + path + ": not a valid " + format_name(format) + " file (" + stbi_failure_reason() +
                ")");
  detail::check_dimensions(path, w, h, max_pixels);
  if (format == ImageFormat::bmp) check_bmp_length(path, bytes, w, h);
  Image img;
  img.width = w, img.height = h, img.channels = c;
  const std::size_t plane = std::size_t(w) * h;
  // stb returns interleaved samples [H][W][C]; we keep planes [C][H][W]. The floats are allocated
  // only once stb has decoded the samples: a damaged header that claims 16384×16384 pixels over a
  // few bytes of data is refused by stb before 4 bytes per sample are committed (and written).
  // Divided, not multiplied by the reciprocal: bit-identical to numpy's / 255 in float32.
  auto deinterleave = [&](const auto* samples, float max) {
    detail::allocate_pixels(path, img);
    for (std::size_t i = 0; i < plane; ++i)
      for (int k = 0; k < c; ++k) img.pixels[k * plane + i] = float(samples[i * c + k]) / max;
  };
  // stb reports every failure as a null result plus a reason string, its only error channel: a
  // failed allocation ("Out of memory") is told apart from damaged data by that string.
  auto fail = [&](bool decoded, int bytes_per_sample) {
    const char* why = stbi_failure_reason();  // null when stb has never failed in this thread
    const std::string reason = decoded ? "the decoded size differs from the header's" : why ? why : "no reason given";
    if (reason == "Out of memory")  // stb's buffer for the samples: said as allocate_pixels says it
      throw OutOfMemory("cannot read " + path + ": out of memory for its " + std::to_string(w) + "×" +
                        std::to_string(h) + "×" + std::to_string(c) + " pixels (" +
                        std::to_string((plane * c * bytes_per_sample) >> 20) + " MiB of samples)");
    throw Error("cannot read " + path + ": corrupt or truncated " + format_name(format) + " data (" + reason + ")");
  };
  // stb's reason for a failed allocation is not reliable (a format probe's "Corrupt JPEG" can
  // stay behind), so the memory the decode will hold at its peak — stb's samples, then our floats
  // beside them — is asked for first. malloc only reserves it: a small file that claims a huge
  // image costs nothing here, and stb then finds its data missing.
  const int bytes_per_sample = stbi_is_16_bit_from_memory(data, size) ? 2 : 1;
  const std::size_t peak = plane * c * (bytes_per_sample + sizeof(float));
  if (void* probe = std::malloc(peak))
    std::free(probe);
  else
    throw OutOfMemory("cannot read " + path + ": out of memory for its " + std::to_string(w) + "×" + std::to_string(h) +
                      "×" + std::to_string(c) + " pixels (" + std::to_string(peak >> 20) +
                      " MiB for the samples and their floats)");
  int w2 = 0, h2 = 0, c2 = 0;  // stb's second look at the header must agree with the first
  if (bytes_per_sample == 2) {
    std::unique_ptr<uint16_t, void (*)(void*)> samples(stbi_load_16_from_memory(data, size, &w2, &h2, &c2, 0),
                                                       stbi_image_free);
    if (!samples || w2 != w || h2 != h || c2 != c) fail(samples != nullptr, 2);
    img.bit_depth = 16;
    deinterleave(samples.get(), 65535.0f);
  } else {
    std::unique_ptr<uint8_t, void (*)(void*)> samples(stbi_load_from_memory(data, size, &w2, &h2, &c2, 0),
                                                      stbi_image_free);
    if (!samples || w2 != w || h2 != h || c2 != c) fail(samples != nullptr, 1);
    deinterleave(samples.get(), 255.0f);
  }
  return img;
}

void check_writable_image(const std::string& path, const Image& img) {
  require(img.width > 0 && img.height > 0 && img.channels >= 1 && img.channels <= 4 &&
              img.pixels.size() == std::size_t(img.width) * img.height * img.channels,
          "cannot write " + path + ": the image is empty, has " + std::to_string(img.channels) +
              " channels, or its pixel count does not match " + std::to_string(img.width) + "×" +
              std::to_string(img.height));
  require(img.bit_depth == 8 || img.bit_depth == 16,
          "cannot write " + path + ": bit depth " + std::to_string(img.bit_depth) + " (expected 8 or 16)");
}

void write_all(int fd, const uint8_t* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error(errno_text());
    data += n, size -= std::size_t(n);
  }
}

void write_png_file(const std::string& path, const Image& img) {
  const std::vector<uint8_t> png = detail::encode_png(img);
  detail::write_file_atomically(path, [&](int fd) { write_all(fd, png.data(), png.size()); });
}

}  // namespace

namespace detail {

void check_dimensions(const std::string& path, int64_t width, int64_t height, int64_t max_pixels) {
  const std::string size = std::to_string(width) + "×" + std::to_string(height);
  require(width > 0 && height > 0, "cannot read " + path + ": the header says the image is " + size + " (no pixels)");
  // Compared by division: a header's 32-bit width × height (up to 2^64) overflows an int64_t.
  if (width > max_pixels / height) {
    const std::string pixels = width <= INT64_MAX / height ? std::to_string(width * height) : "more than 2^63";
    throw Error("cannot read " + path + ": the image is " + size + " = " + pixels + " pixels, more than the limit of " +
                std::to_string(max_pixels));
  }
}

void allocate_pixels(const std::string& path, Image& img) {
  const std::size_t count = std::size_t(img.width) * img.height * img.channels;
  try {
    img.pixels.resize(count);
  } catch (const std::bad_alloc&) {
    throw OutOfMemory("cannot read " + path + ": out of memory for its " + std::to_string(img.width) + "×" +
                      std::to_string(img.height) + "×" + std::to_string(img.channels) + " pixels (" +
                      std::to_string((count * sizeof(float)) >> 20) + " MiB as floats)");
  }
}

void write_file_atomically(const std::string& path, const std::function<void(int fd)>& write_content) {
  const fs::path target(path);
  if (target.filename().empty()) throw Error("cannot write " + path + ": the path names a folder, not a file");
  const fs::path folder = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  const fs::path temp = io::partial_path_for(path);  // also sweeps the folder's stale partial files once
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) {
    const std::string why = errno_text();  // before the checks below overwrite errno
    std::error_code ec;
    std::string reason = "cannot create a file in " + folder.string() + " (" + why + ")";
    if (!fs::exists(folder, ec))
      reason = "the folder " + folder.string() + " does not exist";
    else if (!fs::is_directory(folder, ec))
      reason = folder.string() + " is not a folder";
    throw Error("cannot write " + path + ": " + reason);
  }
  try {
    write_content(fd);
    if (::fsync(fd) != 0) throw Error("flushing to disk failed: " + errno_text());
    const int closed = ::close(fd);
    fd = -1;
    if (closed != 0) throw Error("closing failed: " + errno_text());
    if (::rename(temp.c_str(), path.c_str()) != 0) throw Error("renaming the finished file failed: " + errno_text());
  } catch (const std::exception& e) {
    if (fd >= 0) ::close(fd);
    ::unlink(temp.c_str());
    throw Error("cannot write " + path + ": " + e.what());
  }
  // Make the rename itself durable; failure here loses nothing already written, so it is ignored.
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) ::fsync(dir), ::close(dir);
}

}  // namespace detail

const char* format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::png:
      return "PNG";
    case ImageFormat::jpeg:
      return "JPEG";
    case ImageFormat::bmp:
      return "BMP";
    case ImageFormat::tiff:
      return "TIFF";
  }
  return "?";
}

ImageFormat detect_image_format(const std::string& path) { return format_of_bytes(path, read_file_bytes(path, 8)); }

ImageFormat format_from_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
  if (ext == ".png") return ImageFormat::png;
  if (ext == ".tif" || ext == ".tiff") return ImageFormat::tiff;
  throw Error("cannot write " + path + ": unknown output extension \"" + ext + "\" (expected .png, .tif or .tiff)");
}

Image read_image(const std::string& path, int64_t max_pixels) {
  const ImageFormat format = detect_image_format(path);
  if (format == ImageFormat::tiff) return detail::read_tiff(path, max_pixels);
  return read_with_stb(path, read_file_bytes(path), format, max_pixels);
}

void write_image(const std::string& path, const Image& image, ImageFormat format) {
  check_writable_image(path, image);
  switch (format) {
    case ImageFormat::png:
      return write_png_file(path, image);
    case ImageFormat::tiff:
      return detail::write_file_atomically(path, [&](int fd) { detail::write_tiff_to_fd(fd, path, image); });
    default:
      throw Error("cannot write " + path + ": writing " + format_name(format) + " is not supported (use PNG or TIFF)");
  }
}

void write_image(const std::string& path, const Image& image) { write_image(path, image, format_from_extension(path)); }
void write_png(const std::string& path, const Image& image) { write_image(path, image, ImageFormat::png); }
void write_tiff(const std::string& path, const Image& image) { write_image(path, image, ImageFormat::tiff); }

ImageMetadata scale_resolution(const ImageMetadata& metadata, double factor) {
  ImageMetadata scaled = metadata;
  scaled.x_resolution *= factor;
  scaled.y_resolution *= factor;
  return scaled;
}

Tensor image_to_rgb_tensor(const Image& img) {
  require(img.channels >= 1 && img.channels <= 4,
          "image has " + std::to_string(img.channels) + " channels (expected 1 to 4)");
  const int64_t h = img.height, w = img.width;
  Tensor t = Tensor::empty({1, 3, h, w});
  const bool gray = img.channels <= 2;
  for (int c = 0; c < 3; ++c) std::copy_n(img.plane(gray ? 0 : c), h * w, t.f32() + c * h * w);
  return t;
}

Image rgb_tensor_to_image(const Tensor& t, int bit_depth) {
  require(t.rank() == 4 && t.dim(0) == 1 && t.dim(1) == 3, "expected a [1, 3, H, W] tensor, got " + t.describe());
  Image img;
  img.height = int(t.dim(2)), img.width = int(t.dim(3)), img.channels = 3, img.bit_depth = bit_depth;
  img.pixels.assign(t.f32(), t.f32() + t.numel());
  return img;
}

}  // namespace microsr
