// Zero-padded input copies and per-thread scratch for the optimized CPU convolutions.
#include "cpu/conv/common.h"
#include "cpu/threads.h"

#include <algorithm>
#include <atomic>
#include <cstring>

namespace microsr::kernels::detail {

std::vector<float>& thread_scratch(int which) {
  thread_local std::vector<float> buffers[4];
  return buffers[which];
}

float* thread_aligned_buffer(int which, int64_t floats) {
  thread_local AlignedFloats buffers[7];
  AlignedFloats& buffer = buffers[which];
  if (static_cast<int64_t>(buffer.size()) < floats) buffer.resize(floats);
  return buffer.data();
}

bool forms_dense_block(const PackedConvWeights* const convs[5]) {
  const int nf = convs[0]->cin, g = convs[0]->cout;
  for (int j = 0; j < 5; ++j)
    if (convs[j]->k != 3 || convs[j]->cin != nf + j * g || convs[j]->cout != (j < 4 ? g : nf) ||
        convs[j]->format != convs[0]->format || convs[j]->co_block != convs[0]->co_block)
      return false;
  return true;
}

namespace {
std::atomic<int> forced_band_rows{0};
}  // namespace

void force_dense_block_band_rows(int tile_rows) { forced_band_rows.store(tile_rows > 0 ? tile_rows : 0); }
int forced_dense_block_band_rows() { return forced_band_rows.load(); }

PaddedInput layout_padded_input(std::vector<float>& scratch, int cin, int rows, int row_stride, int64_t tail_slack) {
  const int64_t plane = (static_cast<int64_t>(rows) * row_stride + 15) / 16 * 16;
  const int64_t total = plane * cin + tail_slack;
  if (static_cast<int64_t>(scratch.size()) < total) scratch.resize(total);
  return {scratch.data(), row_stride, plane};
}

void fill_padded_input(const PaddedInput& padded, const float* x, int cin, int h, int w, int pad_top, int pad_left,
                       int64_t tail_slack) {
  float* data = const_cast<float*>(padded.data);
  const int row_stride = padded.row_stride;
  const int64_t plane = padded.plane;
  const int right = row_stride - pad_left - w;  // zero columns right of the image (>= 0)

#pragma omp for schedule(static)
  for (int ci = 0; ci < cin; ++ci) {
    float* dst = data + ci * plane;
    const float* src = x + static_cast<int64_t>(ci) * h * w;
    // Rows above the image, then each image row framed by zeros, then rows below + plane tail.
    std::memset(dst, 0, sizeof(float) * pad_top * row_stride);
    for (int iy = 0; iy < h; ++iy) {
      float* row = dst + static_cast<int64_t>(pad_top + iy) * row_stride;
      std::memset(row, 0, sizeof(float) * pad_left);
      std::memcpy(row + pad_left, src + static_cast<int64_t>(iy) * w, sizeof(float) * w);
      std::memset(row + pad_left + w, 0, sizeof(float) * right);
    }
    const int64_t used = static_cast<int64_t>(pad_top + h) * row_stride;
    std::memset(dst + used, 0, sizeof(float) * (plane - used));
    if (ci == cin - 1) std::memset(dst + plane, 0, sizeof(float) * tail_slack);
  }
}

void fill_padded_input_upsampled2x(const PaddedInput& padded, const float* x, int cin, int h, int w, int pad_top,
                                   int pad_left, int64_t tail_slack) {
  float* data = const_cast<float*>(padded.data);
  const int row_stride = padded.row_stride;
  const int64_t plane = padded.plane;
  const int right = row_stride - pad_left - w;  // zero columns right of the image (>= 0)
  const int src_w = w / 2;

#pragma omp for schedule(static)
  for (int ci = 0; ci < cin; ++ci) {
    float* dst = data + ci * plane;
    const float* src = x + static_cast<int64_t>(ci) * (h / 2) * src_w;
    std::memset(dst, 0, sizeof(float) * pad_top * row_stride);
    for (int iy = 0; iy < h; iy += 2) {  // source row iy / 2 makes image rows iy and iy + 1
      float* row = dst + static_cast<int64_t>(pad_top + iy) * row_stride;
      const float* s = src + static_cast<int64_t>(iy / 2) * src_w;
      std::memset(row, 0, sizeof(float) * pad_left);
      float* image = row + pad_left;
      for (int ix = 0; ix < src_w; ++ix) image[2 * ix] = image[2 * ix + 1] = s[ix];
      std::memset(row + pad_left + w, 0, sizeof(float) * right);
      std::memcpy(row + row_stride, row, sizeof(float) * row_stride);
    }
    const int64_t used = static_cast<int64_t>(pad_top + h) * row_stride;
    std::memset(dst + used, 0, sizeof(float) * (plane - used));
    if (ci == cin - 1) std::memset(dst + plane, 0, sizeof(float) * tail_slack);
  }
}

PaddedInput pad_input(std::vector<float>& scratch, const float* x, int cin, int h, int w, int pad_top, int pad_left,
                      int rows, int row_stride, int64_t tail_slack) {
  const PaddedInput padded = layout_padded_input(scratch, cin, rows, row_stride, tail_slack);
#pragma omp parallel num_threads(team_size())
  fill_padded_input(padded, x, cin, h, w, pad_top, pad_left, tail_slack);
  return padded;
}

PackedConvWeights pack_channel_blocked(const float* weight, const float* bias, int cin, int cout, int k, int co_block,
                                       ConvWeightFormat format) {
  PackedConvWeights packed;
  packed.format = format;
  packed.cin = cin, packed.cout = cout, packed.k = k, packed.co_block = co_block;
  const int blocks = (cout + co_block - 1) / co_block;
  const int64_t taps = static_cast<int64_t>(cin) * k * k;
  packed.data.assign(blocks * taps * co_block, 0.0f);
  for (int co = 0; co < cout; ++co) {
    float* dst = packed.data.data() + (co / co_block) * taps * co_block + co % co_block;
    const float* src = weight + co * taps;  // [cin][k][k] of this output channel
    for (int64_t t = 0; t < taps; ++t) dst[t * co_block] = src[t];
  }
  packed.bias.assign(cout, 0.0f);
  if (bias) std::copy(bias, bias + cout, packed.bias.begin());
  return packed;
}

}  // namespace microsr::kernels::detail
