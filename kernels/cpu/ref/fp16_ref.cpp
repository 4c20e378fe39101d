// IEEE binary16 (fp16) conversions, written out bit by bit: the definition the F16C conversions of
// the fp16 activation storage are tested against (cpu_kernels.h, tests/test_conv_fp16.cpp).
//
// binary16: 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits. Normal values are
// 1.m * 2^(e-15) for e = 1..30 (2^-14 to 65504); e = 0 holds the subnormals m * 2^-24 and zero;
// e = 31 holds infinity (m = 0) and NaN.
#include <cstring>

#include "cpu/cpu_kernels.h"

namespace microsr::kernels {

namespace {

// Rounds value >> shift to the nearest integer, ties to even (shift >= 1).
uint32_t shift_right_nearest_even(uint32_t value, int shift) {
  const uint32_t kept = value >> shift, dropped = value & ((1u << shift) - 1), half = 1u << (shift - 1);
  return kept + (dropped > half || (dropped == half && (kept & 1u)) ? 1u : 0u);
}

}  // namespace

uint16_t float_to_fp16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u)  // NaN: quiet, the payload's top 9 bits kept (as vcvtps2ph does)
    return static_cast<uint16_t>(sign | 0x7E00u | ((magnitude >> 13) & 0x3FFu));
  if (magnitude >= 0x477FF000u) return sign | 0x7C00u;  // 65520 and up (halfway past 65504, odd): infinity
  if (magnitude >= 0x38800000u) {                       // 2^-14 and up: a normal half
    // The exponent rebiased from 127 to 15 and the 23 mantissa bits rounded to 10; a carry out of
    // the mantissa moves the exponent up, which is the right result (65520 is excluded above).
    const uint32_t rebiased = magnitude - (uint32_t{127 - 15} << 23);
    return static_cast<uint16_t>(sign | shift_right_nearest_even(rebiased, 13));
  }
  if (magnitude <= 0x33000000u) return sign;  // up to 2^-25 (halfway to 2^-24, ties to even 0): zero
  // A subnormal half: |value| / 2^-24 rounded. |value| = (2^23 + mantissa) * 2^(exponent - 150), so
  // that is the 24-bit significand shifted right by 126 - exponent (14 to 24 here).
  const int exponent = static_cast<int>(magnitude >> 23);
  const uint32_t significand = (magnitude & 0x7FFFFFu) | 0x800000u;
  return static_cast<uint16_t>(sign | shift_right_nearest_even(significand, 126 - exponent));  // 0x400: 2^-14
}

float fp16_to_float(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1Fu, mantissa = half & 0x3FFu;
  uint32_t bits;
  if (exponent == 31) {
    bits = sign | 0x7F800000u | (mantissa << 13);  // infinity, NaN
  } else if (exponent > 0) {
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  } else {  // zero or subnormal: mantissa * 2^-24, exact in float
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    std::memcpy(&bits, &magnitude, 4);
    bits |= sign;
  }
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}

void floats_to_fp16_ref(uint16_t* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = float_to_fp16(x[i]);
}

}  // namespace microsr::kernels
