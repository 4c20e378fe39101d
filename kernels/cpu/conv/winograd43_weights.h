// Winograd F(4x4, 3x3) sizes and the weight transform U = G g G^T (Lavin & Gray, points 0, ±1, ±2),
// in plain C++: shared by the baseline packing code (conv/dispatch.cpp) and the ISA kernels
// (through conv/winograd43_transforms.h). In an anonymous namespace so that each translation unit
// compiles its own copy with its own flags (see conv/epilogue_avx2.h).
#pragma once
#include <cmath>

namespace microsr::kernels::winograd43 {
namespace {

constexpr int kTile = 4;        // output tile side (m)
constexpr int kWindow = 6;      // input window side (m + k - 1)
constexpr int kPositions = 36;  // ξ: 6x6 transformed positions

// ---- weight transform: U = G g G^T, in double, rounded once ----------------------------------
inline constexpr double kG[6][3] = {{1.0 / 4, 0, 0},
                                    {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                    {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                    {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                    {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                    {0, 0, 1}};

// The sums are written as explicit fused multiply-adds, the order the compiler used to contract
// them to when this was compiled with -mfma: the transformed weights are then the same bits on
// every CPU and build (a baseline build would otherwise round differently, and the training
// goldens of tests/test_train.cpp notice one rounding step on a weight whose gradient is ~0).
inline void transform_kernel(float u[kPositions], const float g[9]) {
  double gg[6][3];  // G g
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 3; ++j)
      gg[i][j] = std::fma(kG[i][2], double(g[6 + j]), std::fma(kG[i][0], double(g[j]), kG[i][1] * g[3 + j]));
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 6; ++j)
      u[i * 6 + j] =
          static_cast<float>(std::fma(gg[i][2], kG[j][2], std::fma(gg[i][0], kG[j][0], gg[i][1] * kG[j][1])));
}

}  // namespace
}  // namespace microsr::kernels::winograd43
