// Tiled inference (see include/microsr/tiler.h for the two modes and the padding rules).
//
// Both modes are one loop: the tile grid is the Cartesian product of a row plan and a column plan,
// each piece's output is multiplied by a per-row weight times a per-column weight and added into
// the output. Real-ESRGAN mode's weights are 1 on the tile's centre and 0 on its context, which is
// exactly their paste; blend mode's cross-fade across seams. Because the grid is a product, the
// weights can be normalised per axis (Σ_i w_i(x) = 1 for every column x, likewise rows), and then
// the 2-D weights also sum to 1 at every output pixel: no weight-sum image is needed.
#include "microsr/tiler.h"

#include "core/host_memory.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <numbers>
#include <vector>

namespace microsr {

const char* tile_mode_name(TileMode mode) { return mode == TileMode::realesrgan ? "realesrgan" : "blend"; }

TileMode parse_tile_mode(const std::string& name) {
  if (name == "realesrgan") return TileMode::realesrgan;
  if (name == "blend") return TileMode::blend;
  throw Error("unknown tile mode '" + name + "': expected realesrgan or blend");
}

namespace {

// One tile along one axis: the tile proper [begin, end) and the piece [piece_begin, piece_end) that
// is run through the network (the tile plus its context), in input pixels. `weight` has one entry
// per output pixel of the piece: how much of this piece goes into that output row/column.
struct Span {
  int64_t begin, end, piece_begin, piece_end;
  std::vector<float> weight;
};

// NaN or Inf in a forward pass's output would blend into a black (or speckled) image that is
// written as if it were fine. Finite weights (checked at load) overflow only on unusual input,
// so the image fails with a message instead, on every backend (CUDA's fp16 to_host counts them
// too, with its own advice).
void require_finite_output(const Tensor& y, const Span& rows, const Span& cols, std::size_t pieces) {
  const int64_t bad = find_non_finite(y).count;
  if (bad == 0) return;
  throw Error("the network's output holds " + std::to_string(bad) + " NaN or infinite value(s) for " +
              (pieces > 1 ? std::to_string(pieces) + " tiles starting with the one" : std::string("the tile")) +
              " at input rows " + std::to_string(rows.begin) + "-" + std::to_string(rows.end - 1) + ", columns " +
              std::to_string(cols.begin) + "-" + std::to_string(cols.end - 1) +
              ": its activations overflowed on this image; no output was written for it");
}

// Raised-cosine step from 0 to 1 across [seam - half_width, seam + half_width]; a hard step at the
// seam when half_width is 0 (x is a pixel centre, never exactly on the seam).
float fade_in(double x, double seam, double half_width) {
  if (half_width <= 0) return x >= seam ? 1.0f : 0.0f;
  const double t = std::clamp((x - seam + half_width) / (2 * half_width), 0.0, 1.0);
  return static_cast<float>(0.5 - 0.5 * std::cos(std::numbers::pi * t));
}

// Tiles of one axis of length n (a multiple of `divisor`, which every piece's length must be too:
// RRDBNet x2 / x1 pixel_unshuffle their input).
//   realesrgan: tiles from the start, the last one takes the remainder; each piece is its tile
//               plus `pad` on both sides clamped to the axis, grown to a multiple of `divisor` by
//               taking more context inside the image.
//   blend:      tiles spread evenly (no thin last tile), and every piece has the SAME length —
//               the longest tile plus 2·pad, a multiple of `divisor` — centred on its tile and
//               shifted inside the axis at the ends (edge tiles get more context, not less). One
//               piece size per image lets every tile share a batch and one recorded CUDA graph.
std::vector<Span> plan_axis(int64_t n, int64_t tile, int64_t pad, TileMode mode, int64_t blend_width, int scale,
                            int64_t divisor) {
  const int64_t count = (n + tile - 1) / tile;
  std::vector<Span> spans(count);
  const int64_t longest = (n + count - 1) / count;  // of the evenly spread tiles
  const int64_t piece = std::min(n, (longest + 2 * pad + divisor - 1) / divisor * divisor);
  for (int64_t i = 0; i < count; ++i) {
    Span& s = spans[i];
    if (mode == TileMode::realesrgan) {
      s.begin = i * tile;
      s.end = std::min(s.begin + tile, n);
      s.piece_begin = std::max<int64_t>(s.begin - pad, 0);
      s.piece_end = std::min(s.end + pad, n);
      const int64_t missing = (divisor - (s.piece_end - s.piece_begin) % divisor) % divisor;
      const int64_t after = std::min(missing, n - s.piece_end);
      s.piece_end += after;
      s.piece_begin -= missing - after;
    } else {
      s.begin = n * i / count;
      s.end = n * (i + 1) / count;
      s.piece_begin = std::clamp(s.begin - (piece - (s.end - s.begin)) / 2, int64_t(0), n - piece);
      s.piece_end = s.piece_begin + piece;
    }
  }
  // Weights at output resolution: output pixel X of the image sits at input position (X + ½)/scale.
  const double half_width = mode == TileMode::blend ? double(blend_width) : 0.0;
  std::vector<double> total(n * scale, 0.0);
  for (int64_t i = 0; i < count; ++i) {
    Span& s = spans[i];
    s.weight.resize((s.piece_end - s.piece_begin) * scale);
    for (std::size_t k = 0; k < s.weight.size(); ++k) {
      const double x = (double(s.piece_begin * scale + int64_t(k)) + 0.5) / scale;
      float w = 1.0f;
      if (i > 0) w *= fade_in(x, double(s.begin), half_width);
      if (i + 1 < count) w *= 1.0f - fade_in(x, double(s.end), half_width);
      s.weight[k] = w;
      total[s.piece_begin * scale + k] += w;
    }
  }
  for (Span& s : spans)
    for (std::size_t k = 0; k < s.weight.size(); ++k) {
      const double sum = total[s.piece_begin * scale + k];
      // sum is exactly 1 in realesrgan mode (0/1 weights), so this changes nothing there.
      if (s.weight[k] != 0.0f) s.weight[k] = static_cast<float>(s.weight[k] / sum);
    }
  return spans;
}

// x [1][C][H][W] → [1][C][H + pad_h][W + pad_w], the new rows/columns mirrored about the last
// ones without repeating them (PyTorch's 'reflect': column W + k copies column W - 2 - k).
// `why` names the padding in the error when the image is too small for it.
Tensor reflect_pad_bottom_right(const Tensor& x, int64_t pad_h, int64_t pad_w, const std::string& why) {
  const int64_t c = x.dim(1), h = x.dim(2), w = x.dim(3);
  if (pad_h == 0 && pad_w == 0) return x;
  require(pad_h < h && pad_w < w, why + ": reflect padding by " + std::to_string(std::max(pad_h, pad_w)) +
                                      " needs an image larger than that, got " + std::to_string(w) + "×" +
                                      std::to_string(h));
  const int64_t oh = h + pad_h, ow = w + pad_w;
  Tensor out = Tensor::empty({1, c, oh, ow});
  auto mirror = [](int64_t i, int64_t n) { return i < n ? i : 2 * (n - 1) - i; };
  for (int64_t k = 0; k < c; ++k)
    for (int64_t y = 0; y < oh; ++y) {
      const float* src = x.f32() + (k * h + mirror(y, h)) * w;
      float* dst = out.f32() + (k * oh + y) * ow;
      std::memcpy(dst, src, w * sizeof(float));
      for (int64_t xx = w; xx < ow; ++xx) dst[xx] = src[mirror(xx, w)];
    }
  return out;
}

// Copies rows [y0, y1) × columns [x0, x1) of src [1][C][H][W] into image n of dst [N][C][y1-y0][x1-x0].
void crop_into(Tensor& dst, int64_t n, const Tensor& src, int64_t y0, int64_t y1, int64_t x0, int64_t x1) {
  const int64_t c = src.dim(1), h = src.dim(2), w = src.dim(3), ph = y1 - y0, pw = x1 - x0;
  for (int64_t k = 0; k < c; ++k)
    for (int64_t y = y0; y < y1; ++y)
      std::memcpy(dst.image(n) + (k * ph + (y - y0)) * pw, src.f32() + (k * h + y) * w + x0, pw * sizeof(float));
}

// Values above which a host loop is spread over the cores: a whole-image piece at 6400×4800 is
// 92 M of them, which the device finished long before one core would.
constexpr int64_t kParallelMin = int64_t(1) << 20;

// out += w_row(Y) · w_col(X) · piece, for image n of piece [N][C][ph·s][pw·s] placed at the spans.
// Rows are independent, so a large piece is spread over the cores.
void accumulate(Tensor& out, const Tensor& piece, int64_t n, const Span& row, const Span& col, int scale) {
  const int64_t c = out.dim(1), oh = out.dim(2), ow = out.dim(3);
  const int64_t ph = piece.dim(2), pw = piece.dim(3);
  const int64_t y0 = row.piece_begin * scale, x0 = col.piece_begin * scale;
  // Columns where this piece has any weight (the tile proper plus the cross-fade).
  int64_t first = 0, last = pw;
  while (first < last && col.weight[first] == 0.0f) ++first;
  while (last > first && col.weight[last - 1] == 0.0f) --last;
#pragma omp parallel for collapse(2) schedule(static) if (c * ph * (last - first) >= kParallelMin)
  for (int64_t k = 0; k < c; ++k)
    for (int64_t y = 0; y < ph; ++y) {
      const float wy = row.weight[y];
      if (wy == 0.0f) continue;
      const float* src = piece.image(n) + (k * ph + y) * pw;
      float* dst = out.f32() + (k * oh + y0 + y) * ow + x0;
      for (int64_t x = first; x < last; ++x) dst[x] += wy * col.weight[x] * src[x];
    }
}

// One attempt with a fixed tile size on the padded image xp [1][C][H'][W'] (H', W' multiples of
// `divisor`); returns [1][C'][H'·s][W'·s].
Tensor run_tiles(RRDBNet& net, Backend& backend, const Tensor& xp, const TileOptions& opt, int64_t tile,
                 int64_t divisor) {
  const RRDBNetConfig& cfg = net.config();
  const int s = cfg.scale;
  const int64_t h = xp.dim(2), w = xp.dim(3);
  if (tile <= 0) tile = std::max(h, w);
  const int64_t pad = std::max(0, opt.tile_pad);
  const int64_t blend_width = std::min<int64_t>(opt.blend_width < 0 ? pad / 2 : opt.blend_width, pad);
  const std::vector<Span> rows = plan_axis(h, tile, pad, opt.mode, blend_width, s, divisor);
  const std::vector<Span> cols = plan_axis(w, tile, pad, opt.mode, blend_width, s, divisor);
  const int total = static_cast<int>(rows.size() * cols.size());

  // One piece covering the image (tile 0, or a tile at least its size) has weights 1 everywhere:
  // the output is that piece as it came back, with no zeroed image to add it into.
  const bool one_piece = total == 1;
  Tensor out = one_piece ? Tensor() : Tensor::zeros({1, cfg.num_out_ch, h * s, w * s});
  int done = 0;
  // Tiles in raster order; consecutive tiles whose pieces have the same size share a forward call.
  std::vector<std::pair<const Span*, const Span*>> batch;
  auto flush = [&] {
    if (batch.empty()) return;
    const Span& r0 = *batch[0].first;
    const Span& c0 = *batch[0].second;
    Tensor in =
        Tensor::empty({int64_t(batch.size()), xp.dim(1), r0.piece_end - r0.piece_begin, c0.piece_end - c0.piece_begin});
    for (std::size_t n = 0; n < batch.size(); ++n)
      crop_into(in, n, xp, batch[n].first->piece_begin, batch[n].first->piece_end, batch[n].second->piece_begin,
                batch[n].second->piece_end);
    const Tensor y = backend.to_host(net.forward_inference(backend.to_device(in)));
    require_finite_output(y, *batch[0].first, *batch[0].second, batch.size());
    for (std::size_t n = 0; n < batch.size(); ++n) {
      if (one_piece)
        out = y;  // [1][C'][h·s][w·s]: the single piece spans both axes (plan_axis: piece = n)
      else
        accumulate(out, y, n, *batch[n].first, *batch[n].second, s);
      if (opt.on_tile) opt.on_tile(++done, total);
    }
    batch.clear();
  };
  for (const Span& row : rows)
    for (const Span& col : cols) {
      if (!batch.empty()) {
        const Span& r0 = *batch[0].first;
        const Span& c0 = *batch[0].second;
        const bool same_size = row.piece_end - row.piece_begin == r0.piece_end - r0.piece_begin &&
                               col.piece_end - col.piece_begin == c0.piece_end - c0.piece_begin;
        if (!same_size || int(batch.size()) >= opt.batch) flush();
      }
      batch.emplace_back(&row, &col);
    }
  flush();
  return out;
}

// The top-left h×w of x [1][C][H][W].
Tensor crop_top_left(const Tensor& x, int64_t h, int64_t w) {
  if (x.dim(2) == h && x.dim(3) == w) return x;
  Tensor out = Tensor::empty({1, x.dim(1), h, w});
  crop_into(out, 0, x, 0, h, 0, w);
  return out;
}

}  // namespace

Tensor upscale_tiled(RRDBNet& net, Backend& backend, const Tensor& x, const TileOptions& opt) {
  const RRDBNetConfig& cfg = net.config();
  require(x.rank() == 4 && x.dim(0) == 1 && x.dim(1) == cfg.num_in_ch,
          "upscale_tiled expects one image [1, " + std::to_string(cfg.num_in_ch) + ", H, W], got " + x.describe());
  require(opt.tile_pad >= 0 && opt.pre_pad >= 0, "--tile-pad and --pre-pad must be >= 0, got " +
                                                     std::to_string(opt.tile_pad) + " and " +
                                                     std::to_string(opt.pre_pad));
  require(opt.batch >= 1, "tile batch must be >= 1, got " + std::to_string(opt.batch));
  const int64_t h = x.dim(2), w = x.dim(3);
  const int s = cfg.scale;
  // The tiles reuse each other's large activation blocks (core/host_memory.h); once the image is
  // done they go back to the system, so that what comes next (the file writer, another image of
  // another size) finds the memory free, as it would without the cache.
  struct GiveBackCachedBlocks {
    ~GiveBackCachedBlocks() { detail::host_memory_trim(); }
  } const give_back_on_return;

  // RealESRGANer.pre_process: reflect pre_pad, then reflect up to a multiple of the unshuffle factor.
  const int64_t divisor = s == 2 ? 2 : s == 1 ? 4 : 1;
  const Tensor pre =
      reflect_pad_bottom_right(x, opt.pre_pad, opt.pre_pad, "--pre-pad " + std::to_string(opt.pre_pad) + " (lower it)");
  const int64_t mod_h = (divisor - pre.dim(2) % divisor) % divisor, mod_w = (divisor - pre.dim(3) % divisor) % divisor;
  const Tensor xp = reflect_pad_bottom_right(
      pre, mod_h, mod_w,
      "a ×" + std::to_string(s) + " model works on sizes that are multiples of " + std::to_string(divisor) +
          " (it pixel-unshuffles its input), so the image is padded to one; the smallest it can pad is " +
          std::to_string(divisor / 2 + 1) + "×" + std::to_string(divisor / 2 + 1));

  int64_t tile = opt.tile;
  if (tile < 0)  // the backend says how much memory a tile may take, whatever its device
    tile = auto_tile_size(cfg, backend.memory_for_tiles(), opt.tile_pad, xp.dim(2), xp.dim(3),
                          backend.bytes_per_activation());
  if (tile >= xp.dim(2) && tile >= xp.dim(3)) tile = 0;  // one tile covers the image: same as whole
  for (;;) {
    try {
      // RealESRGANer.post_process: crop the mod padding, then the pre-padding (both bottom/right).
      return crop_top_left(run_tiles(net, backend, xp, opt, tile, divisor), h * s, w * s);
    } catch (const std::bad_alloc&) {  // host memory
    } catch (const OutOfMemory&) {     // device memory
    }
    const int64_t current = tile > 0 ? tile : std::max(xp.dim(2), xp.dim(3));
    require(current > opt.min_tile, "out of memory even with " + std::to_string(current) + "×" +
                                        std::to_string(current) +
                                        " tiles (the smallest tried): free memory, or set "
                                        "--tile lower than " +
                                        std::to_string(opt.min_tile));
    tile = std::max<int64_t>(current / 2, opt.min_tile);
    if (opt.on_retry) opt.on_retry(static_cast<int>(tile));
  }
}

}  // namespace microsr
