// AMX tile configuration shared by the *_amx.cpp kernels (compiled with -mamx-tile). In an
// anonymous namespace like the other ISA headers (conv/bf16_input_avx512.h): each translation unit
// keeps its own copy, so no code compiled with AMX flags is shared with a baseline caller.
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

}  // namespace
}  // namespace microsr::kernels::amx
