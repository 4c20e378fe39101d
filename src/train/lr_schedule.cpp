// Learning-rate schedules, stepped per epoch like torch.optim.lr_scheduler.StepLR / MultiStepLR.
#include <cmath>
#include <sstream>

#include "microsr/train.h"

namespace microsr {

double LrSchedule::lr_at(int epoch) const {
  require(epoch >= 0, "learning-rate schedule: negative epoch");
  switch (kind) {
    case Kind::constant:
      return base_lr;
    case Kind::step:
      require(step_size > 0, "StepLR needs a step size > 0");
      return base_lr * std::pow(gamma, epoch / step_size);
    case Kind::multistep: {
      int passed = 0;
      for (int m : milestones) passed += m <= epoch;
      return base_lr * std::pow(gamma, passed);
    }
  }
  return base_lr;
}

std::string LrSchedule::describe() const {
  std::ostringstream os;
  os << "lr " << base_lr;
  if (kind == Kind::step) os << ", ×" << gamma << " every " << step_size << " epochs (StepLR)";
  if (kind == Kind::multistep) {
    os << ", ×" << gamma << " at epochs";
    for (int m : milestones) os << ' ' << m;
    os << " (MultiStepLR)";
  }
  return os.str();
}

}  // namespace microsr
