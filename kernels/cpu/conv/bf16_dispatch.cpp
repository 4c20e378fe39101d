// The bf16 convolution's weight packing, input-copy layout and run-time kernel choice
// (conv/bf16.h). Compiled for baseline x86-64: nothing here may use an instruction the slowest CPU
// lacks; the kernels themselves are in conv/v6_implicit_gemm_amx.cpp, v7_weight_blocked_amx.cpp and
// v8_dpbf16_avx512bf16.cpp.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cpu/conv/bf16.h"
#include "cpu/conv/bf16_kernels.h"
#include "cpu/cpu_isa.h"
#include "microsr/error.h"

namespace microsr::kernels {
namespace {

constexpr int kPixelBlock = 32;  // output pixels per item (two 16-pixel tiles)

using Bf16ConvFn = void (*)(const Bf16Output&, const float*, int, const PackedBf16ConvWeights&, const Bf16Input&, int,
                            int, const ConvEpilogue&);
struct Bf16Kernel {
  const char* name;
  CpuIsa needs;  // the lowest instruction-set level (cpu_isa.h) it runs on
  Bf16ConvFn fn;
  bool pixel_major;  // reads (and writes, when dense) the pixel-major input layout (conv/bf16_kernels.h)
  // 3x3 layers run conv2d_winograd23_bf16_avx512bf16 on fp32 activations instead (conv_v10); `fn`
  // runs the other kernel sizes.
  bool winograd23 = false;
};
// Every bf16 kernel, preferred first: the default is the first one the active level runs. On AMX
// (Emerald Rapids, 1 thread, 64² / 128² per pass): v9 0.125 / 0.594 s, v6 0.156 / 0.751 s, v7 ~1.8x
// v6's time; without AMX, v10 (Winograd) before v8 (direct) (docs/performance.md).
constexpr Bf16Kernel kBf16Kernels[] = {
    {"conv_v9_pixel_major_amx", CpuIsa::kAmx, conv2d_bf16_packed_amx_v9, true},
    {"conv_v6_implicit_gemm_amx", CpuIsa::kAmx, conv2d_bf16_packed_amx, false},
    {"conv_v7_weight_blocked_amx", CpuIsa::kAmx, conv2d_bf16_packed_amx_v7, false},
    {"conv_v10_winograd23_dpbf16", CpuIsa::kAvx512Bf16, conv2d_bf16_packed_avx512bf16, false, true},
    {"conv_v8_dpbf16_avx512bf16", CpuIsa::kAvx512Bf16, conv2d_bf16_packed_avx512bf16, false},
};

const Bf16Kernel* find_bf16_kernel(const std::string& name) {
  for (const Bf16Kernel& kernel : kBf16Kernels)
    if (name == kernel.name) return &kernel;
  std::string known;
  for (const Bf16Kernel& kernel : kBf16Kernels) known += std::string(known.empty() ? "" : ", ") + kernel.name;
  throw Error("unknown bf16 convolution kernel '" + name + "' (known: " + known + ")");
}

// The kernel named by MICROSR_BF16_CONV (for A/B runs) or select_conv_bf16_kernel; null: the default.
std::atomic<const Bf16Kernel*>& chosen_bf16_kernel() {
  static std::atomic<const Bf16Kernel*> chosen = [] {
    const char* set = std::getenv("MICROSR_BF16_CONV");
    return set && *set ? find_bf16_kernel(set) : nullptr;
  }();
  return chosen;
}

// The chosen kernel, else the first the active level runs; null when none. Not checked against the
// level (packing asks it too, and packing works on any CPU).
const Bf16Kernel* preferred_bf16_kernel() {
  if (const Bf16Kernel* chosen = chosen_bf16_kernel().load()) return chosen;
  for (const Bf16Kernel& kernel : kBf16Kernels)
    if (cpu_isa_at_least(kernel.needs)) return &kernel;
  return nullptr;
}

// The kernel that runs at the active level: preferred_bf16_kernel(). Throws when the chosen one
// needs a higher level.
const Bf16Kernel* active_bf16_kernel() {
  const Bf16Kernel* kernel = preferred_bf16_kernel();
  if (kernel && !cpu_isa_at_least(kernel->needs))
    throw Error(std::string("bf16 convolution kernel ") + kernel->name + " needs the " + cpu_isa_name(kernel->needs) +
                " instruction set, above the active " + cpu_isa_name(active_cpu_isa()));
  return kernel;
}

// conv_v10 needs the Winograd form of 3x3 weights, packed only while it is the active kernel.
void require_winograd23(const char* caller, const PackedBf16ConvWeights& packed) {
  if (packed.winograd23.empty())
    throw Error(std::string(caller) +
                ": these 3x3 weights were packed while another bf16 kernel than conv_v10_winograd23_dpbf16 was "
                "selected, so they lack its Winograd form; pack them again with conv_v10 selected");
}

void run_winograd23(const char* caller, float* y, const float* x, const PackedBf16ConvWeights& packed, int h, int w,
                    const ConvEpilogue& epi, bool input_upsampled2x) {
  require_winograd23(caller, packed);
  conv2d_winograd23_bf16_avx512bf16(y, x, packed, h, w, epi, input_upsampled2x);
}

// The calling thread's buffers (shared by the team of its call), one per use:
//   kBf16Input     the bf16 input copy of the direct kernels
//   kWinogradRing  conv_v10's dense block: the transformed channels (a ring of bands)
//   kDenseSlices   conv_v10's dense block: x1..x4 in fp32
enum class ThreadBuffer { kBf16Input, kWinogradRing, kDenseSlices };

// At least n elements of buffer Use, cache-line aligned, grown, never shrunk.
template <ThreadBuffer Use, class T>
T* thread_buffer(int64_t n) {
  thread_local std::vector<T, CacheLineAllocator<T>> buffer;
  if (static_cast<int64_t>(buffer.size()) < n) buffer.resize(n);
  return buffer.data();
}

uint16_t* bf16_input_buffer(int64_t elems) { return thread_buffer<ThreadBuffer::kBf16Input, uint16_t>(elems); }

// The layout of the bf16 input copy of an h x w image for `pairs` channel pairs and a k x k kernel
// (conv/bf16_kernels.h), without its storage: pixel-major when the kernel reads that.
Bf16Input input_geometry(const Bf16Kernel& kernel, int pairs, int k, int h, int w) {
  Bf16Input in;
  in.pad = k / 2;
  in.wp = (w + kPixelBlock - 1) / kPixelBlock * kPixelBlock;
  in.cols = in.wp + 2 * in.pad;
  in.pairs = pairs;
  in.rows = h + 2 * in.pad;
  in.pixel_major = kernel.pixel_major;
  in.row_elems = static_cast<int64_t>(in.pairs) * in.cols * 2;
  return in;
}

// A bf16 input copy whose padding stays zero: all zeros when `in`'s geometry or the image width w
// changes, then its padding (border rows and columns, columns past w, pairs no conv writes) is
// never written, while the channels are overwritten by a convolution's bf16 epilogue before they
// are read. The width is part of the key: two widths with the same padded layout (50 and 48 both
// round to 64) differ in which columns are padding (tested).
struct ZeroPaddedBuffer {
  std::vector<uint16_t, CacheLineAllocator<uint16_t>> data;
  int pad = -1, cols = 0, pairs = 0, rows = 0, w = 0;
  bool pixel_major = false;

  uint16_t* for_geometry(const Bf16Input& in, int image_w) {
    if (pad != in.pad || cols != in.cols || pairs != in.pairs || rows != in.rows || w != image_w ||
        pixel_major != in.pixel_major) {
      data.assign(static_cast<size_t>(in.rows * in.row_elems), 0);
      pad = in.pad, cols = in.cols, pairs = in.pairs, rows = in.rows, w = image_w, pixel_major = in.pixel_major;
    }
    return data.data();
  }
};

// The calling thread's dense-block buffer (conv2d_bf16_dense_block).
uint16_t* dense_block_buffer(const Bf16Input& in, int w) {
  thread_local ZeroPaddedBuffer buffer;
  return buffer.for_geometry(in, w);
}

// The calling thread's buffer between the two convolutions of conv2d_bf16_upsampled2x_pair (its own,
// so that the dense blocks' buffer keeps its geometry from one pass to the next).
uint16_t* chain_buffer(const Bf16Input& in, int w) {
  thread_local ZeroPaddedBuffer buffer;
  return buffer.for_geometry(in, w);
}

}  // namespace

uint16_t float_to_bf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);  // quiet NaN
  bits += 0x7FFFu + ((bits >> 16) & 1u);  // round to nearest, ties to even
  return static_cast<uint16_t>(bits >> 16);
}

float bf16_to_float(uint16_t bits) {
  const uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &wide, 4);
  return value;
}

const char* conv_bf16_unavailable_reason() {
  if (cpu_isa_at_least(CpuIsa::kAvx512Bf16)) return nullptr;
  if (detected_cpu_isa() >= CpuIsa::kAvx512Bf16)
    return "bf16 convolutions need AVX512_BF16 or AMX, which this CPU has but MICROSR_CPU_ISA turns off";
  return "bf16 convolutions need AVX512_BF16 or AMX (amx_tile, amx_bf16; Intel Xeon 3rd/4th generation and later, "
         "AMD Zen 4 and later), which this CPU (or its OS) does not give";
}

const char* conv_bf16_kernel_name() {
  const Bf16Kernel* kernel = active_bf16_kernel();
  return kernel ? kernel->name : "none";
}

bool conv_bf16_pair_stays_bf16() {
  const Bf16Kernel* kernel = active_bf16_kernel();
  return kernel && !kernel->winograd23;
}

std::vector<std::string> conv_bf16_kernels() {
  std::vector<std::string> names;
  for (const Bf16Kernel& kernel : kBf16Kernels)
    if (cpu_isa_at_least(kernel.needs)) names.emplace_back(kernel.name);
  return names;
}

void select_conv_bf16_kernel(const std::string& name) {
  chosen_bf16_kernel().store(name.empty() ? nullptr : find_bf16_kernel(name));
}

PackedBf16ConvWeights pack_conv_weights_bf16(const float* weight, const float* bias, int cin, int cout, int k) {
  require(cin > 0 && cout > 0 && k > 0 && k % 2 == 1,
          "pack_conv_weights_bf16: expected cin, cout > 0 and odd k, found cin=" + std::to_string(cin) +
              " cout=" + std::to_string(cout) + " k=" + std::to_string(k));
  PackedBf16ConvWeights packed;
  packed.cin = cin, packed.cout = cout, packed.k = k;
  packed.cin_padded = (cin + 31) / 32 * 32;
  packed.cout_padded = (cout + 15) / 16 * 16;
  const int taps = k * k, ci_blocks = packed.cin_padded / 32;
  packed.data.assign(static_cast<size_t>(packed.cout_padded) * taps * packed.cin_padded, 0);
  packed.data_b.assign(packed.data.size(), 0);
  for (int co = 0; co < cout; ++co)
    for (int ci = 0; ci < cin; ++ci)
      for (int tap = 0; tap < taps; ++tap) {
        const int64_t block = (static_cast<int64_t>(co / 16) * taps + tap) * ci_blocks + ci / 32;
        const uint16_t value = float_to_bf16(weight[(static_cast<int64_t>(co) * cin + ci) * taps + tap]);
        packed.data[(block * 16 + co % 16) * 32 + ci % 32] = value;
        packed.data_b[block * 512 + (ci % 32) / 2 * 32 + (co % 16) * 2 + ci % 2] = value;
      }
  packed.bias.assign(packed.cout_padded, 0.0f);
  if (bias) std::memcpy(packed.bias.data(), bias, sizeof(float) * cout);
  const Bf16Kernel* kernel = preferred_bf16_kernel();
  if (k == 3 && kernel && kernel->winograd23) pack_winograd23_bf16(packed, weight);
  return packed;
}

void conv2d_bf16_packed(float* y, const float* x, const PackedBf16ConvWeights& packed, int h, int w,
                        const ConvEpilogue& epi) {
  require(h > 0 && w > 0,
          "conv2d_bf16_packed: expected h, w >= 1, found " + std::to_string(h) + "x" + std::to_string(w));
  if (const char* why = conv_bf16_unavailable_reason()) throw Error(std::string("conv2d_bf16_packed: ") + why);
  const Bf16Kernel* kernel = active_bf16_kernel();
  if (kernel->winograd23 && packed.k == 3) return run_winograd23("conv2d_bf16_packed", y, x, packed, h, w, epi, false);
  Bf16Input in = input_geometry(*kernel, packed.cin_padded / 2, packed.k, h, w);
  in.data = bf16_input_buffer(in.rows * in.row_elems);
  Bf16Output out;
  out.y = y;
  kernel->fn(out, x, packed.cin, packed, in, h, w, epi);
}

void conv2d_bf16_packed_upsampled2x(float* y, const float* x, const PackedBf16ConvWeights& packed, int h, int w,
                                    const ConvEpilogue& epi) {
  require(h > 0 && w > 0,
          "conv2d_bf16_packed_upsampled2x: expected h, w >= 1, found " + std::to_string(h) + "x" + std::to_string(w));
  if (const char* why = conv_bf16_unavailable_reason())
    throw Error(std::string("conv2d_bf16_packed_upsampled2x: ") + why);
  const Bf16Kernel* kernel = active_bf16_kernel();
  if (kernel->winograd23 && packed.k == 3)
    return run_winograd23("conv2d_bf16_packed_upsampled2x", y, x, packed, 2 * h, 2 * w, epi, true);
  Bf16Input in = input_geometry(*kernel, packed.cin_padded / 2, packed.k, 2 * h, 2 * w);
  in.data = bf16_input_buffer(in.rows * in.row_elems);
  fill_bf16_input_upsampled2x(in, x, packed.cin, 2 * h, 2 * w);
  Bf16Output out;
  out.y = y;
  kernel->fn(out, nullptr, 0, packed, in, 2 * h, 2 * w, epi);
}

void conv2d_bf16_upsampled2x_pair(float* y, const float* x, const PackedBf16ConvWeights& conv1,
                                  const ConvEpilogue& epi1, const PackedBf16ConvWeights& conv2,
                                  const ConvEpilogue& epi2, int h, int w) {
  require(h > 0 && w > 0,
          "conv2d_bf16_upsampled2x_pair: expected h, w >= 1, found " + std::to_string(h) + "x" + std::to_string(w));
  if (const char* why = conv_bf16_unavailable_reason())
    throw Error(std::string("conv2d_bf16_upsampled2x_pair: ") + why);
  require(conv2.cin == conv1.cout && conv1.cout % 2 == 0,
          "conv2d_bf16_upsampled2x_pair: the second conv takes " + std::to_string(conv2.cin) +
              " channels, the first gives " + std::to_string(conv1.cout) + " (must be equal and even)");
  require(epi1.scale == 1.0f && !epi1.residual,
          "conv2d_bf16_upsampled2x_pair: the first conv's epilogue may have bias and LeakyReLU only");
  const Bf16Kernel* kernel = active_bf16_kernel();
  const int big_h = 2 * h, big_w = 2 * w;
  if (kernel->winograd23) {  // conv_v10 keeps activations in fp32: conv1's output is made
    std::vector<float, CacheLineAllocator<float>> middle(static_cast<size_t>(conv1.cout) * big_h * big_w);
    conv2d_bf16_packed_upsampled2x(middle.data(), x, conv1, h, w, epi1);
    return conv2d_bf16_packed(y, middle.data(), conv2, big_h, big_w, epi2);
  }
  Bf16Input in1 = input_geometry(*kernel, conv1.cin_padded / 2, conv1.k, big_h, big_w);
  in1.data = bf16_input_buffer(in1.rows * in1.row_elems);
  fill_bf16_input_upsampled2x(in1, x, conv1.cin, big_h, big_w);
  Bf16Input in2 = input_geometry(*kernel, conv2.cin_padded / 2, conv2.k, big_h, big_w);
  in2.data = chain_buffer(in2, big_w);
  Bf16Output middle;  // conv1's output, bf16, straight into conv2's input copy
  middle.dense = &in2;
  kernel->fn(middle, nullptr, 0, conv1, in1, big_h, big_w, epi1);
  Bf16Output out;
  out.y = y;
  kernel->fn(out, nullptr, 0, conv2, in2, big_h, big_w, epi2);
}

void conv2d_bf16_dense_block(float* out, const float* x, const PackedBf16ConvWeights* const convs[5], int h, int w,
                             float lrelu_slope, float residual_scale, const float* skip) {
  require(h > 0 && w > 0,
          "conv2d_bf16_dense_block: expected h, w >= 1, found " + std::to_string(h) + "x" + std::to_string(w));
  if (const char* why = conv_bf16_unavailable_reason()) throw Error(std::string("conv2d_bf16_dense_block: ") + why);
  const int nf = convs[0]->cin, g = convs[0]->cout, k = convs[0]->k;
  require(nf % 2 == 0 && g % 2 == 0, "conv2d_bf16_dense_block: needs an even feature and growth count, found nf=" +
                                         std::to_string(nf) + " g=" + std::to_string(g));
  for (int j = 0; j < 5; ++j)
    require(convs[j]->k == k && convs[j]->cin == nf + j * g && convs[j]->cout == (j < 4 ? g : nf),
            "conv2d_bf16_dense_block: conv" + std::to_string(j + 1) + " is " + std::to_string(convs[j]->cin) + " -> " +
                std::to_string(convs[j]->cout) + " channels, k " + std::to_string(convs[j]->k) +
                "; expected nf + (j-1) g -> g (conv5: -> nf) with nf=" + std::to_string(nf) +
                " g=" + std::to_string(g));
  const Bf16Kernel* kernel = active_bf16_kernel();
  if (kernel->winograd23 && k == 3) {
    for (int j = 0; j < 5; ++j)
      require_winograd23("conv2d_bf16_dense_block", *convs[j]);
    const int64_t plane = static_cast<int64_t>(h) * w;
    dense_block_winograd23_avx512bf16(out, x, convs, h, w, lrelu_slope, residual_scale,
                                      thread_buffer<ThreadBuffer::kWinogradRing, uint16_t>(
                                          winograd23_dense_block_elems(nf / 2 + 2 * g, h, w)),
                                      thread_buffer<ThreadBuffer::kDenseSlices, float>(4 * g * plane));
    if (skip) scaled_add(out, out, residual_scale, skip, nf * plane);
    return;
  }
  Bf16Input dense = input_geometry(*kernel, convs[4]->cin_padded / 2, k, h, w);
  dense.data = dense_block_buffer(dense, w);
  ConvEpilogue act;
  act.has_lrelu = true;
  act.lrelu_slope = lrelu_slope;
  for (int j = 0; j < 4; ++j) {
    Bf16Output to_dense;
    to_dense.dense = &dense;
    to_dense.channel0 = nf + j * g;
    kernel->fn(to_dense, j == 0 ? x : nullptr, nf, *convs[j], dense, h, w, act);
  }
  ConvEpilogue residual;
  residual.scale = residual_scale;
  residual.residual = x;
  Bf16Output to_out;
  to_out.y = out;
  to_out.skip = skip;
  to_out.skip_scale = residual_scale;
  kernel->fn(to_out, nullptr, 0, *convs[4], dense, h, w, residual);
}

void conv2d_bf16(float* y, const float* x, const float* weight, const float* bias, int cin, int cout, int h, int w,
                 int k, const ConvEpilogue& epi) {
  conv2d_bf16_packed(y, x, pack_conv_weights_bf16(weight, bias, cin, cout, k), h, w, epi);
}

}  // namespace microsr::kernels
