// AMX tile configuration and the C-tile steps (zero, load, store, one tap step) shared by the
// *_amx.cpp kernels (compiled with -mamx-tile). In an anonymous namespace like the other ISA headers
// (conv/bf16_input_avx512.h): each translation unit keeps its own copy, so no code compiled with AMX
// flags is shared with a baseline caller.
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace microsr::kernels::amx {
namespace {

// The 64-byte LDTILECFG operand (palette 1).
struct alignas(64) TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

// Every tile used is 16 rows x 64 bytes (16 fp32 / 32 bf16 per row). Per thread (tile state is).
void configure_tiles() {
  TileConfig config = {};
  config.palette_id = 1;
  for (int t = 0; t < 8; ++t) {
    config.colsb[t] = 64;
    config.rows[t] = 16;
  }
  _tile_loadconfig(&config);
}

// The C tiles of one item, kCoTiles (1 or 2) output-channel blocks x 2 pixel halves: tile
// (co block j, px half i) is tile 2j + i, its 16 x 16 fp32 sums at c + (2j + i) * 256.
template <int kCoTiles>
void zero_sums() {
  _tile_zero(0);
  _tile_zero(1);
  if constexpr (kCoTiles == 2) {
    _tile_zero(2);
    _tile_zero(3);
  }
}
template <int kCoTiles>
void load_sums(const float* c) {
  _tile_loadd(0, c, 64);
  _tile_loadd(1, c + 256, 64);
  if constexpr (kCoTiles == 2) {
    _tile_loadd(2, c + 512, 64);
    _tile_loadd(3, c + 768, 64);
  }
}
template <int kCoTiles>
void store_sums(float* c) {
  _tile_stored(0, c, 64);
  _tile_stored(1, c + 256, 64);
  if constexpr (kCoTiles == 2) {
    _tile_stored(2, c + 512, 64);
    _tile_stored(3, c + 768, 64);
  }
}

// One (tap, 32 input channels) step of the C tiles: B tiles 6, 7 are pixels 0-15 and 16-31 of the
// bf16 input at bt (rows, one per channel pair, b_stride bytes apart); A tile 4 is co block 0's
// packed weights at a, tile 5 co block 1's at a + a_next. Each A and B tile feeds two tdpbf16ps.
template <int kCoTiles>
void step_sums(const uint16_t* a, int64_t a_next, const uint16_t* bt, int64_t b_stride) {
  _tile_loadd(6, bt, b_stride);
  _tile_loadd(7, bt + 32, b_stride);
  _tile_loadd(4, a, 64);
  _tile_dpbf16ps(0, 4, 6);
  _tile_dpbf16ps(1, 4, 7);
  if constexpr (kCoTiles == 2) {
    _tile_loadd(5, a + a_next, 64);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
}

}  // namespace
}  // namespace microsr::kernels::amx
