// The AMX kernels (conv_v6_implicit_gemm_amx, conv_v7_weight_blocked_amx, conv_v9_pixel_major_amx)
// compiled with their tile intrinsics replaced by a scalar emulation, so that their indexing (taps, channel blocks, pixel
// items, groups, chunks, the epilogue) is tested on CPUs without AMX (tests/test_conv_bf16.cpp:
// Bf16Conv.AmxKernelsEmulatedMatchReference). The rest (input fill, epilogue) is the kernels' own
// AVX-512 + AVX512_BF16 code, so this object gets those flags (tests/CMakeLists.txt) and is
// called only where avx512_bf16 runs. Everything but amx_emulated_conv is in an anonymous
// namespace: no weak code compiled with these flags (checked by cpu_isa_objects_define_no_shared_code).
//
// Emulated semantics (Intel's AMX reference, palette 1, every tile 16 rows x 64 bytes):
//   tileloadd t, [p + r * stride]   rows r = 0..15, 64 bytes each; tilestored likewise; tilezero
//   tdpbf16ps c, a, b:  c[m][n] += Σ_{k<16} a[m][2k] b[k][2n] + a[m][2k+1] b[k][2n+1]  (fp32, bf16 in)
// The sum order inside one tdpbf16ps is this loop's, not the hardware's, so results match the
// reference to the bf16 bound, not the AMX hardware's bits.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace microsr::kernels {
namespace {
namespace amx_emulation {

struct Tile {
  alignas(64) uint8_t bytes[16][64];
};
thread_local Tile tiles[8];

float bf16_value(uint16_t bits) {
  const uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &wide, 4);
  return value;
}
void load(int t, const void* p, int64_t stride) {
  for (int r = 0; r < 16; ++r) std::memcpy(tiles[t].bytes[r], static_cast<const uint8_t*>(p) + r * stride, 64);
}
void store(int t, void* p, int64_t stride) {
  for (int r = 0; r < 16; ++r) std::memcpy(static_cast<uint8_t*>(p) + r * stride, tiles[t].bytes[r], 64);
}
void zero(int t) { std::memset(tiles[t].bytes, 0, sizeof tiles[t].bytes); }
void dpbf16ps(int c, int a, int b) {
  for (int m = 0; m < 16; ++m) {
    float sums[16];
    std::memcpy(sums, tiles[c].bytes[m], 64);
    uint16_t a_row[32];
    std::memcpy(a_row, tiles[a].bytes[m], 64);
    for (int n = 0; n < 16; ++n)
      for (int k = 0; k < 16; ++k) {
        uint16_t b_row[32];
        std::memcpy(b_row, tiles[b].bytes[k], 64);
        sums[n] += bf16_value(a_row[2 * k]) * bf16_value(b_row[2 * n]) +
                   bf16_value(a_row[2 * k + 1]) * bf16_value(b_row[2 * n + 1]);
      }
    std::memcpy(tiles[c].bytes[m], sums, 64);
  }
}

}  // namespace amx_emulation
}  // namespace
}  // namespace microsr::kernels

// immintrin.h defines these as macros for the real instructions (with or without -mamx-tile).
#undef _tile_loadd
#undef _tile_stored
#undef _tile_zero
#undef _tile_dpbf16ps
#undef _tile_loadconfig
#undef _tile_release
#define _tile_loadd(t, p, stride) microsr::kernels::amx_emulation::load(t, p, stride)
#define _tile_stored(t, p, stride) microsr::kernels::amx_emulation::store(t, p, stride)
#define _tile_zero(t) microsr::kernels::amx_emulation::zero(t)
#define _tile_dpbf16ps(c, a, b) microsr::kernels::amx_emulation::dpbf16ps(c, a, b)
#define _tile_loadconfig(config) (void)(config)
#define _tile_release() (void)0

// The kernels' entry points under other names (the library has the real ones).
#define conv2d_bf16_packed_amx emulated_conv_v6
#include "kernels/cpu/conv/v6_implicit_gemm_amx.cpp"
#undef conv2d_bf16_packed_amx
#define conv2d_bf16_packed_amx_v7 emulated_conv_v7
#include "kernels/cpu/conv/v7_weight_blocked_amx.cpp"
#undef conv2d_bf16_packed_amx_v7
#define conv2d_bf16_packed_amx_v9 emulated_conv_v9
#include "kernels/cpu/conv/v9_pixel_major_amx.cpp"
#undef conv2d_bf16_packed_amx_v9

namespace microsr::kernels {

// version 6, 7 or 9: that kernel, with the same contract as conv/bf16_kernels.h's entry points (9
// needs a pixel-major `in`).
void amx_emulated_conv(int version, const Bf16Output& out, const float* x, int fill_channels,
                       const PackedBf16ConvWeights& packed, const Bf16Input& in, int h, int w,
                       const ConvEpilogue& epi) {
  if (version == 6)
    emulated_conv_v6(out, x, fill_channels, packed, in, h, w, epi);
  else if (version == 7)
    emulated_conv_v7(out, x, fill_channels, packed, in, h, w, epi);
  else
    emulated_conv_v9(out, x, fill_channels, packed, in, h, w, epi);
}

}  // namespace microsr::kernels
