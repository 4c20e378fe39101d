// The CPU backend's training operations (see the "training" section of microsr/backend.h for each
// contract). CpuBackend (cpu_backend.cpp) forwards its overrides here; each function checks
// shapes, dtypes and devices, then runs the kernels of kernels/cpu over the batch.
#pragma once
#include "microsr/backend.h"

namespace microsr::cpu_training {

void conv2d_backward_data(Tensor& dx, const Tensor& dy, const Tensor& w, bool accumulate);
void conv2d_backward_weight(Tensor& dw, Tensor& db, const Tensor& x, const Tensor& dy);
void leaky_relu_backward(Tensor& dz, const Tensor& dy, const Tensor& y, float slope);
void upsample_nearest2x_backward(Tensor& dx, const Tensor& dy);
void pixel_shuffle(Tensor& y, const Tensor& x, int r);
double l1_loss(Tensor* dpred, const Tensor& pred, const Tensor& target);
double sum_squares(const Tensor& t);
void fill(Tensor& t, float value);
void scale(Tensor& t, float s);
void adam_step(Tensor& param, Tensor& m, Tensor& v, const Tensor& grad, const AdamStep& step);
void ema_update(Tensor& ema, const Tensor& param, double decay);

}  // namespace microsr::cpu_training
