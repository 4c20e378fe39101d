// Deterministic random numbers for the synthetic images, defined bit for bit by this file.
//
// std::uniform_real_distribution and std::normal_distribution are implementation-defined, so the
// same seed could give other images with another standard library. Instead every draw is a
// SplitMix64 hash of a counter: Random is the SplitMix64 generator itself, and hash_of() turns
// (seed, what, where) into an independent stream, which also makes per-pixel noise independent of
// how rows are shared among threads.
#pragma once
#include <cmath>
#include <cstdint>
#include <numbers>

namespace microsr::synth {

// The SplitMix64 output function: a bijective mix of 64 bits (Steele, Lea & Flood 2014).
inline uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// A hash of several integers, order-sensitive.
inline uint64_t hash_of(uint64_t first) { return mix64(first); }
template <class... Rest>
uint64_t hash_of(uint64_t first, Rest... rest) {
  return mix64(first ^ (hash_of(static_cast<uint64_t>(rest)...) * 0xd6e8feb86659fd93ull));
}

// [0, 1) with 53 random bits; (0, 1] for the logarithm in Box–Muller.
inline double unit_interval(uint64_t bits) { return double(bits >> 11) * 0x1.0p-53; }
inline double open_unit_interval(uint64_t bits) { return double((bits >> 11) + 1) * 0x1.0p-53; }

// A standard normal from two independent 64-bit words (Box–Muller, cosine branch).
inline double normal_from_bits(uint64_t a, uint64_t b) {
  return std::sqrt(-2.0 * std::log(open_unit_interval(a))) * std::cos(2.0 * std::numbers::pi * unit_interval(b));
}

class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next() { return mix64(state_ += 0x9e3779b97f4a7c15ull); }
  double uniform() { return unit_interval(next()); }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  double log_uniform(double lo, double hi) { return lo * std::exp(std::log(hi / lo) * uniform()); }
  int integer(int lo, int hi) { return lo + int(uniform() * (hi - lo + 1)); }  // in [lo, hi]
  bool chance(double p) { return uniform() < p; }
  double normal() {
    const uint64_t a = next();
    return normal_from_bits(a, next());
  }
  double normal(double mean, double sigma) { return mean + sigma * normal(); }

 private:
  uint64_t state_;
};

// Smooth value noise in [-1, 1]: random values on the integer lattice, blended with the cubic
// smoothstep 3t² - 2t³ so that the field and its gradient are continuous.
inline double value_noise(uint64_t seed, double x, double y) {
  const double fx = std::floor(x), fy = std::floor(y);
  const int64_t ix = int64_t(fx), iy = int64_t(fy);
  auto corner = [&](int64_t cx, int64_t cy) {
    return 2.0 * unit_interval(hash_of(seed, uint64_t(cx), uint64_t(cy))) - 1.0;
  };
  const double tx = x - fx, ty = y - fy;
  const double sx = tx * tx * (3 - 2 * tx), sy = ty * ty * (3 - 2 * ty);
  const double top = corner(ix, iy) + sx * (corner(ix + 1, iy) - corner(ix, iy));
  const double bottom = corner(ix, iy + 1) + sx * (corner(ix + 1, iy + 1) - corner(ix, iy + 1));
  return top + sy * (bottom - top);
}

}  // namespace microsr::synth
