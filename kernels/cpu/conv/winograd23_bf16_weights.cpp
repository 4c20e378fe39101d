// The weight transform of conv_v10_winograd23_dpbf16 (conv/v10_winograd23_avx512bf16.cpp has the
// math): U = G g G^T for Winograd F(2x2, 3x3), packed in bf16. Baseline x86-64 code.
#include <cstdint>

#include "cpu/conv/bf16.h"
#include "cpu/conv/bf16_kernels.h"

namespace microsr::kernels {
namespace {

constexpr double kG[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};

// u [16] (ξ = 4 i + j) = G g G^T for one 3x3 kernel g [9], in double, rounded once to fp32.
void transform_kernel(float u[16], const float* g) {
  double gg[4][3];  // G g
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j) gg[i][j] = kG[i][0] * g[j] + kG[i][1] * g[3 + j] + kG[i][2] * g[6 + j];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j)
      u[i * 4 + j] = static_cast<float>(gg[i][0] * kG[j][0] + gg[i][1] * kG[j][1] + gg[i][2] * kG[j][2]);
}

}  // namespace

void pack_winograd23_bf16(PackedBf16ConvWeights& packed, const float* weight) {
  const int cin = packed.cin, cout = packed.cout, pairs = (cin + 1) / 2;
  const int co_blocks = (cout + kWinograd23Bf16CoBlock - 1) / kWinograd23Bf16CoBlock;
  const int64_t per_position = static_cast<int64_t>(co_blocks) * pairs * 2 * kWinograd23Bf16CoBlock;
  packed.winograd23.assign(static_cast<size_t>(16 * per_position), 0);
  float u[16];
  for (int co = 0; co < cout; ++co)
    for (int ci = 0; ci < cin; ++ci) {
      transform_kernel(u, weight + (static_cast<int64_t>(co) * cin + ci) * 9);
      const int64_t at = (static_cast<int64_t>(co / kWinograd23Bf16CoBlock) * pairs + ci / 2) * 2 *
                             kWinograd23Bf16CoBlock +
                         (co % kWinograd23Bf16CoBlock) * 2 + ci % 2;
      for (int xi = 0; xi < 16; ++xi) packed.winograd23[xi * per_position + at] = float_to_bf16(u[xi]);
    }
}

}  // namespace microsr::kernels
