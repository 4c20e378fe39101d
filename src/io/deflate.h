// Private to src/io: zlib streams for the image writers (TIFF strips, PNG's IDAT), compressed on
// every core. A 6400×4800 frame — one upscaled 4X camera image — took 7–10 s to write on one core
// (H200 machine, 2026-12-04), 20–30× the network's 0.33 s; bench/bench_image_write.cpp times it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace microsr::detail {

// The zlib level the image writers use: level 1 writes a 6400×4800 frame several times faster than
// zlib's default 6, for files a few per cent larger (bench/bench_image_write.cpp).
inline constexpr int kImageDeflateLevel = 1;

// One complete zlib stream (RFC 1950: header, deflate data, Adler-32) of data[0, size).
std::vector<uint8_t> zlib_compress(const uint8_t* data, std::size_t size, int level);

// The same kind of stream, made from pieces of `piece` bytes compressed in parallel (OpenMP), the
// way pigz does: each piece is raw deflate primed with the 32 KiB of input before it (so matches
// may reach back across the seam) and ends on a byte boundary (Z_SYNC_FLUSH; the last piece
// Z_FINISH); the pieces are concatenated between one zlib header and the Adler-32 of the whole.
// Any zlib inflater reads it as one stream, and the bytes do not depend on the thread count.
std::vector<uint8_t> zlib_compress_parallel(const uint8_t* data, std::size_t size, int level,
                                            std::size_t piece = std::size_t(1) << 20);

}  // namespace microsr::detail
