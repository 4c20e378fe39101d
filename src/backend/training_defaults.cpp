// Default bodies of the Backend's training operations: a backend that has not implemented one
// says so by name instead of computing something wrong.
#include "microsr/backend.h"

namespace microsr {
namespace {
[[noreturn]] void no_training_op(const Backend& b, const char* op) {
  throw Error(std::string("the ") + b.name() + " backend does not implement " + op + " (needed for training)");
}
}  // namespace

void Backend::conv2d_backward_data(Tensor&, const Tensor&, const Tensor&, bool) {
  no_training_op(*this, "conv2d_backward_data");
}
void Backend::conv2d_backward_weight(Tensor&, Tensor&, const Tensor&, const Tensor&) {
  no_training_op(*this, "conv2d_backward_weight");
}
void Backend::leaky_relu_backward(Tensor&, const Tensor&, const Tensor&, float) {
  no_training_op(*this, "leaky_relu_backward");
}
void Backend::upsample_nearest2x_backward(Tensor&, const Tensor&) {
  no_training_op(*this, "upsample_nearest2x_backward");
}
void Backend::pixel_shuffle(Tensor&, const Tensor&, int) { no_training_op(*this, "pixel_shuffle"); }
double Backend::l1_loss(Tensor*, const Tensor&, const Tensor&) { no_training_op(*this, "l1_loss"); }
double Backend::sum_squares(const Tensor&) { no_training_op(*this, "sum_squares"); }
void Backend::fill(Tensor&, float) { no_training_op(*this, "fill"); }
void Backend::scale(Tensor&, float) { no_training_op(*this, "scale"); }
void Backend::adam_step(Tensor&, Tensor&, Tensor&, const Tensor&, const AdamStep&) {
  no_training_op(*this, "adam_step");
}
void Backend::ema_update(Tensor&, const Tensor&, double) { no_training_op(*this, "ema_update"); }

}  // namespace microsr
