// PatchSampler: aligned random LR/HR patches, epochs without replacement, exact resume.
//
// Every random choice is a SplitMix64 hash (src/synth/random.h, defined bit for bit) of the seed
// and where it is used — the order of epoch e from hash(seed, kOrder, e), the crop and flips of
// the sample at position k of epoch e from hash(seed, kDraw, e, k) — so the sampler's whole state
// is the count of batches drawn, and any batch can be recomputed without replaying the ones before.
#include <algorithm>
#include <cstdio>
#include <numeric>
#include <string>

#include "microsr/error.h"
#include "microsr/pairs.h"
#include "synth/random.h"

namespace microsr {
namespace {

using synth::hash_of;
using synth::Random;

constexpr uint64_t kOrderStream = 0x6f72646572;  // "order"
constexpr uint64_t kDrawStream = 0x64726177;     // "draw"
constexpr const char* kStateTag = "microsr-patch-sampler/1";

// An integer in [0, n) from 64 random bits (53 of them, as a fraction of n).
int below(uint64_t bits, int n) { return int(synth::unit_interval(bits) * n); }

uint64_t fingerprint_of(const PairSet& set) {
  uint64_t h = hash_of(set.scale, set.size());
  for (const TrainingPair& p : set.pairs) {
    for (unsigned char ch : p.name) h = hash_of(h, ch);
    h = hash_of(h, p.lr.width, p.lr.height, p.hr.width, p.hr.height);
  }
  return h;
}

// dst [3][P][P] ← the P×P square of `src` at (x0, y0), flipped and then transposed as asked:
// with (r, c) = transpose ? (ox, oy) : (oy, ox), dst[oy][ox] = src[y0 + (vflip ? P-1-r : r)]
//                                                                [x0 + (hflip ? P-1-c : c)].
void copy_patch(float* dst, const Image& src, int x0, int y0, int P, const PatchDraw& d) {
  for (int c = 0; c < 3; ++c) {
    const float* plane = src.plane(c);
    float* out = dst + std::size_t(c) * P * P;
    for (int oy = 0; oy < P; ++oy)
      for (int ox = 0; ox < P; ++ox) {
        int r = d.transpose ? ox : oy, col = d.transpose ? oy : ox;
        if (d.vflip) r = P - 1 - r;
        if (d.hflip) col = P - 1 - col;
        out[std::size_t(oy) * P + ox] = plane[std::size_t(y0 + r) * src.width + x0 + col];
      }
  }
}

void ensure_shape(Tensor& t, const Shape& shape) {
  if (!t.defined() || t.shape() != shape || !t.is_contiguous() || t.device() != Device::cpu() ||
      t.dtype() != DType::f32)
    t = Tensor::empty(shape);
}

}  // namespace

PatchSampler::PatchSampler(const PairSet& set, const PatchOptions& options) : set_(set), options_(options) {
  require(options.batch >= 1, "the batch must be ≥ 1, got " + std::to_string(options.batch));
  require(options.lr_patch >= 1, "the LR patch must be ≥ 1 pixel, got " + std::to_string(options.lr_patch));
  require(set.scale >= 1, "the pair set has no scale (load it with PairSet::load)");
  require(set.size() >= std::size_t(options.batch),
          "the pair set has " + std::to_string(set.size()) + " pairs, fewer than the batch " +
              std::to_string(options.batch) + " (each epoch drops its last partial batch): lower the batch");
  std::string small;
  int count = 0;
  for (const TrainingPair& p : set.pairs)
    if (p.lr.width < options.lr_patch || p.lr.height < options.lr_patch) {
      if (++count <= 5)
        small += (count > 1 ? ", " : "") + p.name + " (LR " + std::to_string(p.lr.width) + "×" +
                 std::to_string(p.lr.height) + ")";
    }
  require(count == 0, std::to_string(count) + " pair(s) are smaller than the " + std::to_string(options.lr_patch) +
                          "×" + std::to_string(options.lr_patch) + " LR patch: " + small + (count > 5 ? ", ..." : "") +
                          ". Use a smaller patch, or remake the pairs with --min-size ≥ patch × scale");
  fingerprint_ = fingerprint_of(set);
}

PatchDraw PatchSampler::draw(int64_t epoch, int64_t position) const {
  Random rng(hash_of(options_.seed, kDrawStream, uint64_t(epoch), uint64_t(position)));
  PatchDraw d;
  d.pair = order_[std::size_t(position)];
  const Image& lr = set_.pairs[std::size_t(d.pair)].lr;
  d.x = below(rng.next(), lr.width - options_.lr_patch + 1);
  d.y = below(rng.next(), lr.height - options_.lr_patch + 1);
  const uint64_t coins = rng.next();  // top bits: one coin per augmentation
  d.hflip = options_.flips && (coins >> 63);
  d.vflip = options_.flips && ((coins >> 62) & 1);
  d.transpose = options_.rotations && ((coins >> 61) & 1);
  return d;
}

void PatchSampler::next_batch(Tensor& lr, Tensor& hr) {
  const int64_t per_epoch = batches_per_epoch();
  const int64_t epoch = batches_drawn_ / per_epoch, first = (batches_drawn_ % per_epoch) * options_.batch;
  if (order_epoch_ != epoch) {  // Fisher–Yates, from the last element down
    order_.resize(set_.size());
    std::iota(order_.begin(), order_.end(), 0);
    Random rng(hash_of(options_.seed, kOrderStream, uint64_t(epoch)));
    for (int i = int(order_.size()) - 1; i > 0; --i)
      std::swap(order_[std::size_t(i)], order_[std::size_t(below(rng.next(), i + 1))]);
    order_epoch_ = epoch;
  }
  const int p = options_.lr_patch, s = set_.scale, B = options_.batch;
  ensure_shape(lr, {B, 3, p, p});
  ensure_shape(hr, {B, 3, int64_t(p) * s, int64_t(p) * s});
  last_draws_.clear();
  for (int j = 0; j < B; ++j) {
    const PatchDraw d = draw(epoch, first + j);
    const TrainingPair& pair = set_.pairs[std::size_t(d.pair)];
    copy_patch(lr.image(j), pair.lr, d.x, d.y, p, d);
    copy_patch(hr.image(j), pair.hr, d.x * s, d.y * s, p * s, d);
    last_draws_.push_back(d);
  }
  ++batches_drawn_;
}

std::string PatchSampler::config_key() const {
  char key[256];
  std::snprintf(key, sizeof key, "seed=%llu batch=%d lr_patch=%d scale=%d flips=%d rotations=%d pairs=%zu set=%016llx",
                static_cast<unsigned long long>(options_.seed), options_.batch, options_.lr_patch, set_.scale,
                int(options_.flips), int(options_.rotations), set_.size(),
                static_cast<unsigned long long>(fingerprint_));
  return key;
}

std::string PatchSampler::save_state() const {
  return std::string(kStateTag) + " " + config_key() + " batches=" + std::to_string(batches_drawn_);
}

void PatchSampler::load_state(const std::string& state) {
  const std::string prefix = std::string(kStateTag) + " ";
  const std::size_t counter = state.rfind(" batches=");
  require(state.rfind(prefix, 0) == 0 && counter != std::string::npos,
          "not a patch sampler state: '" + state.substr(0, 80) + "'");
  const std::string saved = state.substr(prefix.size(), counter - prefix.size());
  require(saved == config_key(), "the sampler state was saved with other data or settings:\n  saved: " + saved +
                                     "\n  now:   " + config_key() +
                                     "\n(resume with the same pairs, --batch, "
                                     "--patch and --seed)");
  const std::string digits = state.substr(counter + 9);
  require(!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos && digits.size() < 19,
          "the sampler state has a bad batch counter '" + digits + "'");
  batches_drawn_ = std::stoll(digits);
  last_draws_.clear();
}

}  // namespace microsr
