// Argument checks shared by the CPU backend's operations (cpu_backend.cpp, cpu_training.cpp).
#pragma once
#include <string>

#include "microsr/tensor.h"

namespace microsr::cpu_checks {

inline void expect_f32_cpu(const Tensor& t, const char* what) {
  require(t.defined() && t.dtype() == DType::f32 && t.device().kind == DeviceKind::cpu,
          std::string(what) + ": expected an f32 CPU tensor, found " +
              (t.defined() ? t.describe() : std::string("an undefined tensor")));
}

inline void expect_nchw_f32_cpu(const Tensor& t, const char* what) {
  require(t.defined() && t.rank() == 4 && t.dtype() == DType::f32 && t.device().kind == DeviceKind::cpu,
          std::string(what) + ": expected an f32 NCHW CPU tensor, found " +
              (t.defined() ? t.describe() : std::string("an undefined tensor")));
}

inline void expect_same_shape(const Tensor& a, const Tensor& b, const char* what) {
  require(a.shape() == b.shape(), std::string(what) + ": shapes differ, " + a.describe() + " vs " + b.describe());
}

}  // namespace microsr::cpu_checks
