// Optimized CPU convolutions: a numbered variant table, plus a packed-weights entry point.
//
// Every variant computes exactly what conv2d_same_ref (cpu_kernels.h) defines:
//   y [cout][h][w] = scale * act(conv_same(x [cin][h][w], w [cout][cin][k][k]) + bias) + residual
// for any odd k, any cin/cout >= 1 and any h, w >= 1. Tests (tests/test_conv_cpu.cpp) and
// benchmarks (bench/bench_conv.cpp) iterate over conv2d_variants(); production code packs the
// weights once per layer with pack_conv_weights() and calls conv2d_packed() for every forward
// pass. A variant's plain signature packs on every call, which costs a visible share of a small
// conv for Winograd (BM_pack; figures in docs/kernels.md).
//
// Threading: OpenMP inside each kernel (one parallel region per call), team_size() threads
// (cpu/threads.h: the caller's ThreadCount, else OpenMP's default). Scratch: the Winograd kernels
// read their windows straight from x; only the fused x2 upsampling (and the direct-format
// variants) fill a zero-padded input copy per calling thread (grown to the largest layer, never
// shrunk: 68 MB for 64 channels at 512x512); each OpenMP thread keeps a small Winograd batch
// buffer (~0.9 MB at cin = 192).
#pragma once
#include <cstddef>
#include <new>
#include <string>
#include <vector>

#include "cpu/cpu_kernels.h"

namespace microsr::kernels {

using Conv2dFn = void (*)(float* y, const float* x, const float* weight, const float* bias, int cin, int cout, int h,
                          int w, int k, const ConvEpilogue& epi);

struct Conv2dVariant {
  const char* name;     // "conv_v1_direct", ... — stable, used by tests and bench filters
  const char* summary;  // one line: what this variant changes
  Conv2dFn fn;
};

// The variants the active instruction set can run (cpu/cpu_isa.h): v1..v4 need avx2 for speed
// (below it they run the baseline scalar loops on their packed formats), v5 needs avx512 and is
// listed only from there up.
const std::vector<Conv2dVariant>& conv2d_variants();
// Throws microsr::Error naming the known variants when `name` is not one of them, or naming the
// instruction set a variant needs when the active one is lower.
const Conv2dVariant& conv2d_variant(const std::string& name);

// ---- packed weights: pack once per layer, convolve many times ----------------------------------
enum class ConvWeightFormat {
  kDirect,            // [cout/4 blocks][cin][k][k][4]: conv_v1_direct (any odd k)
  kDirect16,          // [cout/16 blocks][cin][k][k][16]: conv_v2_direct16 (any odd k)
  kWinograd43,        // Winograd F(4x4,3x3) transformed weights, co_block 3 or 4: k == 3 only
  kWinograd43Avx512,  // the same layout with co_block 8 (4 when cout <= 4): conv_v5's 16-wide products
};
// "direct", "direct16", "winograd43", "winograd43_avx512" (benchmark names).
const char* conv_weight_format_name(ConvWeightFormat format);
// Every format the active instruction set runs natively (cpu/cpu_isa.h; kWinograd43Avx512 from
// avx512 up), in the order above: the table the packed-path and backward-data tests and benchmarks
// iterate (dgrad runs the forward on transposed weights in one of these formats).
const std::vector<ConvWeightFormat>& conv_weight_formats();

// 64-byte aligned storage, so packed weight vectors never straddle cache lines.
template <class T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64))); }
  void deallocate(T* p, std::size_t) { ::operator delete(p, std::align_val_t(64)); }
  bool operator==(const CacheLineAllocator&) const { return true; }
};
using AlignedFloats = std::vector<float, CacheLineAllocator<float>>;

struct PackedConvWeights {
  ConvWeightFormat format = ConvWeightFormat::kDirect;
  int cin = 0, cout = 0, k = 0;
  int co_block = 0;         // output channels per packed block (format-specific)
  AlignedFloats data;       // layout depends on format (see conv/v1_direct.cpp, v2_direct16.cpp, v3_winograd43.cpp)
  std::vector<float> bias;  // [cout]; zeros when the layer has no bias
};

// The format conv2d_packed runs fastest with for this layer shape on the active instruction set
// (Winograd for k == 3: kWinograd43Avx512 from avx512 up; direct16 otherwise).
ConvWeightFormat best_conv_weight_format(int cin, int cout, int k);

// weight [cout][cin][k][k] (PyTorch layout), bias [cout] or null.
PackedConvWeights pack_conv_weights(const float* weight, const float* bias, int cin, int cout, int k,
                                    ConvWeightFormat format);
inline PackedConvWeights pack_conv_weights(const float* weight, const float* bias, int cin, int cout, int k) {
  return pack_conv_weights(weight, bias, cin, cout, k, best_conv_weight_format(cin, cout, k));
}

//   y [packed.cout][h][w], x [packed.cin][h][w]
void conv2d_packed(float* y, const float* x, const PackedConvWeights& packed, int h, int w, const ConvEpilogue& epi);
// The same on the nearest x2 upsampling of x, without making it when the Winograd kernels run
// (they fill their padded input copy from x directly; otherwise the upsampling is made first):
//   y [packed.cout][2h][2w] = conv(upsample_nearest2x(x [packed.cin][h][w]))  (the same bits, tested)
void conv2d_packed_upsampled2x(float* y, const float* x, const PackedConvWeights& packed, int h, int w,
                               const ConvEpilogue& epi);

// RRDBNet's residual dense block in one call, each channel's Winograd transform made once
// (conv/dense_block_wavefront.h):  x_j = LeakyReLU_slope(conv_j([x, x1 .. x(j-1)])), j = 1..4,
//   out [nf][h][w] = x + residual_scale * conv5([x, x1 .. x4])  (+ residual_scale * out + skip
//   when skip is given: the RRDB's own residual, as scaled_add_ref computes it).
// The same bits as the five conv2d_packed calls (tested). Runs when conv j is nf + (j-1) g -> g
// (conv5: -> nf), 3x3, all packed in the Winograd format of the active instruction set
// (kWinograd43Avx512 on avx512, kWinograd43 with co_block 4 on avx2); throws microsr::Error
// otherwise. dense_block_fusable(convs, h, w) says whether it runs *and pays* at h x w: only while
// the whole image's transformed channels stay in cache (<= 8 MB: 64x64 and below at RRDBNet's
// widths). Larger images run faster as five convolutions that transform their input straight from
// the activations (Zen 4, 2 threads, fused / five: 64² 0.86, 128² 1.05, 224² 1.12), because the
// fp32 transformed tiles (9 bytes per pixel and channel) come back from L3 or memory.
bool dense_block_fusable(const PackedConvWeights* const convs[5], int h, int w);
void conv2d_dense_block_packed(float* out, const float* x, const PackedConvWeights* const convs[5], int h, int w,
                               float lrelu_slope, float residual_scale, const float* skip = nullptr);

}  // namespace microsr::kernels
