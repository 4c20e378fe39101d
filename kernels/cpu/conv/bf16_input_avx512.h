// Filling the bf16 input copy (conv/bf16_kernels.h: Bf16Input) and the fp32 epilogue of 16 pixels,
// AVX-512 + AVX512_BF16. Included by the bf16 kernels' ISA translation units only; in an anonymous
// namespace so that each compiles its own copy with its own flags (see conv/epilogue_avx2.h).
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "cpu/conv/bf16_kernels.h"

namespace microsr::kernels::bf16 {
namespace {

// a + b, where a is a product the compiler must not fuse into a multiply-add (it may contract a
// mul feeding an add under -ffp-contract=fast): the asm makes `a` opaque, so it is rounded first.
__m512 no_fma_add(__m512 a, __m512 b) {
  asm("" : "+v"(a));
  return _mm512_add_ps(a, b);
}

void zero_elems(uint16_t* dst, int64_t n) {
  const __m512i zero = _mm512_setzero_si512();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) _mm512_storeu_si512(dst + i, zero);
  if (i < n) _mm512_mask_storeu_epi16(dst + i, (__mmask32)((1ull << (n - i)) - 1), zero);
}

// 16 fp32 values of one image row from column c0 on, zeros from lane n on (and for a null row):
// row[c0 ... c0 + 15], or with `upsampled` the nearest x2 upsampling of a row half as wide,
// row[c0/2], row[c0/2], row[c0/2 + 1], ... (c0 even): 8 loads, each value twice (vpermps).
__m512 load_row_16(const float* row, int c0, int n, bool upsampled) {
  if (!row || n <= 0) return _mm512_setzero_ps();
  const __mmask16 mask = static_cast<__mmask16>((1u << n) - 1);
  if (!upsampled) return _mm512_maskz_loadu_ps(mask, row + c0);
  const __m256 half = _mm256_maskz_loadu_ps(static_cast<__mmask8>((1u << ((n + 1) / 2)) - 1), row + c0 / 2);
  const __m512i twice = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
  return _mm512_maskz_permutexvar_ps(mask, twice, _mm512_castps256_ps512(half));
}

// r[i][j] <- r[j][i] for 16 vectors of 16 32-bit elements (a bf16 channel pair, or an fp32 value):
// pairs within 128-bit lanes (unpack 32, then 64), then the 4 x 4 lanes (shuffle_i32x4). The unpacks
// are the all-ones maskz forms: GCC 12's plain ones start from an undefined vector and warn.
[[maybe_unused]] void transpose_16x16(__m512i r[16]) {
  const __mmask16 all16 = 0xFFFF;
  const __mmask8 all8 = 0xFF;
  __m512i t[16], u[16];
  for (int k = 0; k < 8; ++k) {  // t[2k], t[2k+1]: rows 2k, 2k+1 interleaved (a0 b0 a1 b1 | a2 b2 a3 b3)
    t[2 * k] = _mm512_maskz_unpacklo_epi32(all16, r[2 * k], r[2 * k + 1]);
    t[2 * k + 1] = _mm512_maskz_unpackhi_epi32(all16, r[2 * k], r[2 * k + 1]);
  }
  for (int k = 0; k < 4; ++k) {  // u[4k + m], lane L: column 4L + m of rows 4k .. 4k + 3
    u[4 * k] = _mm512_maskz_unpacklo_epi64(all8, t[4 * k], t[4 * k + 2]);
    u[4 * k + 1] = _mm512_maskz_unpackhi_epi64(all8, t[4 * k], t[4 * k + 2]);
    u[4 * k + 2] = _mm512_maskz_unpacklo_epi64(all8, t[4 * k + 1], t[4 * k + 3]);
    u[4 * k + 3] = _mm512_maskz_unpackhi_epi64(all8, t[4 * k + 1], t[4 * k + 3]);
  }
  for (int m = 0; m < 4; ++m) {  // row 4L + m = lane L of u[m], u[4 + m], u[8 + m], u[12 + m]
    const __m512i v0 = _mm512_maskz_shuffle_i32x4(all16, u[m], u[4 + m], 0x44);
    const __m512i v1 = _mm512_maskz_shuffle_i32x4(all16, u[m], u[4 + m], 0xEE);
    const __m512i v2 = _mm512_maskz_shuffle_i32x4(all16, u[8 + m], u[12 + m], 0x44);
    const __m512i v3 = _mm512_maskz_shuffle_i32x4(all16, u[8 + m], u[12 + m], 0xEE);
    r[m] = _mm512_maskz_shuffle_i32x4(all16, v0, v2, 0x88);
    r[4 + m] = _mm512_maskz_shuffle_i32x4(all16, v0, v2, 0xDD);
    r[8 + m] = _mm512_maskz_shuffle_i32x4(all16, v1, v3, 0x88);
    r[12 + m] = _mm512_maskz_shuffle_i32x4(all16, v1, v3, 0xDD);
  }
}

// Fills channel pairs [0, pairs) of the padded rows of `in` from x [cin][h][w] (fp32, NCHW), channels
// past cin as zeros; the pairs after them are left as they are (pixel-major: whole 32-channel
// blocks, so up to the block holding pair `pairs - 1`). With `upsampled`, x is
// [cin][h/2][w/2] (h, w even) and the copy holds its nearest x2 upsampling (upsample_nearest2x_ref):
// the same values, without the 4x larger fp32 tensor. Work-shares over rows with an orphaned
// `omp for` (ends with a barrier): call it from every thread of a parallel region.
// Per 16 pixels of a channel pair: two fp32 loads, one vcvtne2ps2bf16 (RNE) giving
// [c0 px0..15 | c1 px0..15], one vpermw interleaving them to px0 (c0 c1), px1 (c0 c1), ...
void fill_input(const Bf16Input& in, const float* x, int cin, int h, int w, int pairs, bool upsampled = false) {
  const int up = upsampled ? 2 : 1;
  const int64_t src_w = w / up, plane = static_cast<int64_t>(h / up) * src_w;
  const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22,
                                              6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
#pragma omp for schedule(static)
  for (int r = 0; r < in.rows; ++r) {
    uint16_t* row = in.data + r * in.row_elems;
    const int iy = r - in.pad;
    if (iy < 0 || iy >= h) {
      const int zero_pairs = in.pixel_major ? (pairs + 15) / 16 * 16 : pairs;  // whole blocks
      zero_elems(row, static_cast<int64_t>(zero_pairs) * in.cols * 2);
      continue;
    }
    const int64_t src_row = static_cast<int64_t>(iy / up) * src_w;
    if (in.pixel_major) {  // whole 32-channel blocks: per 16 pixels, 16 pair vectors transposed
      for (int b = 0; b < (pairs + 15) / 16; ++b) {
        uint16_t* block = row + static_cast<int64_t>(b) * in.cols * 32;
        zero_elems(block, 32 * in.pad);
        for (int c0 = 0; c0 < in.wp; c0 += 16) {
          const int n = w - c0 >= 16 ? 16 : (w - c0 > 0 ? w - c0 : 0);
          __m512i v[16];  // v[j]: pair j of the block, pixels c0 .. c0 + 15 (then pixel i: pairs 0..15)
          for (int j = 0; j < 16; ++j) {
            const int c = 32 * b + 2 * j;
            const float* s0 = c < cin ? x + c * plane + src_row : nullptr;
            const float* s1 = c + 1 < cin ? x + (c + 1) * plane + src_row : nullptr;
            const __m512 a = load_row_16(s0, c0, n, upsampled), bb = load_row_16(s1, c0, n, upsampled);
            v[j] = _mm512_permutexvar_epi16(interleave, (__m512i)_mm512_cvtne2ps_pbh(bb, a));
          }
          transpose_16x16(v);
          for (int i = 0; i < 16; ++i) _mm512_store_si512(block + 32 * (in.pad + c0 + i), v[i]);
        }
        zero_elems(block + 32 * (in.pad + in.wp), 32 * (in.cols - in.pad - in.wp));
      }
      continue;
    }
    for (int p = 0; p < pairs; ++p) {
      uint16_t* dst = row + static_cast<int64_t>(p) * in.cols * 2;
      const float* s0 = 2 * p < cin ? x + (2 * p) * plane + src_row : nullptr;
      const float* s1 = 2 * p + 1 < cin ? x + (2 * p + 1) * plane + src_row : nullptr;
      zero_elems(dst, 2 * in.pad);
      for (int c0 = 0; c0 < in.wp; c0 += 16) {
        const int n = w - c0 >= 16 ? 16 : (w - c0 > 0 ? w - c0 : 0);
        const __m512 a = load_row_16(s0, c0, n, upsampled), b = load_row_16(s1, c0, n, upsampled);
        const __m512i pair = (__m512i)_mm512_cvtne2ps_pbh(b, a);  // lanes 0-15: a, 16-31: b
        _mm512_storeu_si512(dst + 2 * (in.pad + c0), _mm512_permutexvar_epi16(interleave, pair));
      }
      zero_elems(dst + 2 * (in.pad + in.wp), 2 * (in.cols - in.pad - in.wp));
    }
  }
}

// y[index + i] = scale * act(sums[i] + bias) + residual[index + i] for i < n (n <= 16); then, with
// skip, y = fma(y, skip_scale, skip[index + i]) (RRDB's residual, one rounding, as scaled_add_ref
// computes it with std::fma). The conv's own scale * v + residual is rounded twice (no_fma_add), in
// every inlined copy alike, so that the same block gives the same bits fused or not.
void store_16(float* y, __m512 sums, float bias, const ConvEpilogue& epi, int64_t index, int n,
              const float* skip = nullptr, float skip_scale = 1.0f) {
  const __mmask16 mask = n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1);
  __m512 v = _mm512_add_ps(sums, _mm512_set1_ps(bias));
  if (epi.has_lrelu) {
    const __mmask16 negative = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
    v = _mm512_mask_mul_ps(v, negative, v, _mm512_set1_ps(epi.lrelu_slope));
  }
  v = _mm512_mul_ps(v, _mm512_set1_ps(epi.scale));
  if (epi.residual) v = no_fma_add(v, _mm512_maskz_loadu_ps(mask, epi.residual + index));
  if (skip) v = _mm512_fmadd_ps(v, _mm512_set1_ps(skip_scale), _mm512_maskz_loadu_ps(mask, skip + index));
  _mm512_mask_storeu_ps(y + index, mask, v);
}

// The bf16 epilogue of two output channels' 16 pixels: act(sums + bias) for channel c (even) and
// c + 1, rounded to bf16 (RNE, as fill_input rounds) and stored interleaved, 64 bytes, at dst
// (pair c / 2, the first pixel's column). Pixels from n on are stored as zeros (n <= 16).
void store_pair_bf16(uint16_t* dst, __m512 sums0, __m512 sums1, float bias0, float bias1, const ConvEpilogue& epi,
                     int n) {
  const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22,
                                              6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  __m512 v0 = _mm512_add_ps(sums0, _mm512_set1_ps(bias0));
  __m512 v1 = _mm512_add_ps(sums1, _mm512_set1_ps(bias1));
  if (epi.has_lrelu) {
    const __m512 slope = _mm512_set1_ps(epi.lrelu_slope);
    v0 = _mm512_mask_mul_ps(v0, _mm512_cmp_ps_mask(v0, _mm512_setzero_ps(), _CMP_LT_OQ), v0, slope);
    v1 = _mm512_mask_mul_ps(v1, _mm512_cmp_ps_mask(v1, _mm512_setzero_ps(), _CMP_LT_OQ), v1, slope);
  }
  const __m512i pair = _mm512_permutexvar_epi16(interleave, (__m512i)_mm512_cvtne2ps_pbh(v1, v0));
  const __mmask32 valid = n >= 16 ? ~__mmask32{0} : static_cast<__mmask32>((1u << (2 * n)) - 1);
  _mm512_storeu_si512(dst, _mm512_maskz_mov_epi16(valid, pair));
}

// The epilogue of one AMX item: c holds its sums as 16 x 16 fp32 tiles, tile (co block j, pixel half
// i) at c + (2 j + i) * 256, row m = output channel co0 + 16 j + m, pixels x0 + 16 i ... + 15 of
// output row oy; co_blocks (1 or 2) tiles of 16 channels. Into out.y through store_16 (the whole
// ConvEpilogue, then the skip), or, with out.dense, through store_pair_bf16 into the dense buffer's
// padded row oy (channel pairs (m, m + 1) interleaved). Channels from cout on and pixels from w on
// are not stored (pixels past w in the dense buffer are written as zeros: its padding).
[[maybe_unused]] void store_item(const Bf16Output& out, const float* c, int co_blocks, int co0, int oy, int x0, int h,
                                 int w, int cout, const float* bias, const ConvEpilogue& epi) {
  const int64_t plane = static_cast<int64_t>(h) * w;
  for (int j = 0; j < co_blocks; ++j)
    for (int i = 0; i < 2; ++i) {
      const int n = w - (x0 + 16 * i);
      if (n <= 0) continue;
      const float* tile = c + (2 * j + i) * 256;
      if (out.dense) {
        const Bf16Input& d = *out.dense;
        for (int m = 0; m < 16; m += 2) {
          const int co = co0 + 16 * j + m;
          if (co >= cout) break;
          uint16_t* dst = d.data + static_cast<int64_t>(oy + d.pad) * d.row_elems +
                          static_cast<int64_t>((out.channel0 + co) / 2) * d.cols * 2 + 2 * (d.pad + x0 + 16 * i);
          store_pair_bf16(dst, _mm512_load_ps(tile + 16 * m), _mm512_load_ps(tile + 16 * (m + 1)), bias[co],
                          bias[co + 1], epi, n);
        }
        continue;
      }
      for (int m = 0; m < 16; ++m) {
        const int co = co0 + 16 * j + m;
        if (co >= cout) break;
        store_16(out.y, _mm512_load_ps(tile + 16 * m), bias[co], epi,
                 co * plane + static_cast<int64_t>(oy) * w + x0 + 16 * i, n, out.skip, out.skip_scale);
      }
    }
}

}  // namespace
}  // namespace microsr::kernels::bf16
