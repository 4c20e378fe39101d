// The order in which a backward convolution tries its ways to run (src/backend/cuda/
// backward_order.h), on a pretend cuDNN: each case says which (operands, algorithm) pairs cuDNN
// accepts, and the test checks which one runs. The promise under test: a deterministic algorithm
// runs wherever one is accepted, on the views or on packed copies, before any nondeterministic
// one — a resumed training run then repeats the same bits. No device needed.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "backend/cuda/backward_order.h"

namespace microsr {
namespace {

using cudnn_order::Operands;

struct FakeCandidate {
  int algo;
  bool deterministic;
};

// What a pretend cuDNN does with one backward convolution's shape: the same ranking for views and
// packed copies (as the real heuristics give, the refusals come at run time), and a set of
// (operands, algorithm) pairs it refuses. Plans persist across calls, as in cudnn_backward.cpp.
struct FakeBackward {
  std::set<std::pair<Operands, int>> refused;
  std::vector<FakeCandidate> views_plan, packed_plan;
  int runs_tried = 0;

  explicit FakeBackward(std::vector<FakeCandidate> ranking) : views_plan(ranking), packed_plan(std::move(ranking)) {}

  // "views 1", "packed 0 (nondeterministic)", or "none": what one gradient call ran.
  std::string call() {
    std::string ran = "none";
    cudnn_order::run_in_order([&](const cudnn_order::Attempt& attempt) {
      auto& plan = attempt.operands == Operands::views ? views_plan : packed_plan;
      return cudnn_order::run_first_accepted(plan, attempt.deterministic_only, [&](const FakeCandidate& c) {
        ++runs_tried;
        if (refused.count({attempt.operands, c.algo})) return false;
        ran = std::string(attempt.operands == Operands::views ? "views " : "packed ") + std::to_string(c.algo) +
              (c.deterministic ? "" : " (nondeterministic)");
        return true;
      });
    });
    return ran;
  }
};

// cuDNN's usual ranking for these shapes, in our order: deterministic 1 and 3, then nondeterministic 0.
const std::vector<FakeCandidate> kRanking = {{1, true}, {3, true}, {0, false}};

TEST(CudnnBackwardOrder, TheBestDeterministicAlgorithmRunsOnTheViewsWhenAccepted) {
  FakeBackward cudnn(kRanking);
  EXPECT_EQ(cudnn.call(), "views 1");
  FakeBackward second_refused(kRanking);
  second_refused.refused = {{Operands::views, 1}};
  EXPECT_EQ(second_refused.call(), "views 3");
}

// The case a review flagged in the earlier order (views: every algorithm, then packed copies):
// with the deterministic ones refused on a channel slice's strides, the nondeterministic one ran
// on the views, and a resumed fine-tuning run could end with other bits.
TEST(CudnnBackwardOrder, PackedCopiesComeBeforeANondeterministicAlgorithm) {
  FakeBackward cudnn(kRanking);
  cudnn.refused = {{Operands::views, 1}, {Operands::views, 3}};
  EXPECT_EQ(cudnn.call(), "packed 1");
  EXPECT_EQ(cudnn.call(), "packed 1") << "the next call goes the same way";
}

TEST(CudnnBackwardOrder, NondeterministicOnlyWhereNoDeterministicAlgorithmRunsAnywhere) {
  FakeBackward no_deterministic_ranked({{0, false}, {2, false}});
  EXPECT_EQ(no_deterministic_ranked.call(), "views 0 (nondeterministic)");

  FakeBackward all_refused(kRanking);
  all_refused.refused = {
      {Operands::views, 1}, {Operands::views, 3}, {Operands::packed_copies, 1}, {Operands::packed_copies, 3}};
  EXPECT_EQ(all_refused.call(), "views 0 (nondeterministic)");

  all_refused.refused.insert({Operands::views, 0});
  FakeBackward last_resort(kRanking);
  last_resort.refused = all_refused.refused;
  EXPECT_EQ(last_resort.call(), "packed 0 (nondeterministic)");

  last_resort.refused.insert({Operands::packed_copies, 0});
  FakeBackward nothing(kRanking);
  nothing.refused = last_resort.refused;
  EXPECT_EQ(nothing.call(), "none");
  EXPECT_TRUE(nothing.views_plan.empty() && nothing.packed_plan.empty()) << "every candidate was tried and dropped";
}

// A refusal depends on the strides and alignment, not on the data (the plan key holds both), so a
// refused algorithm is dropped for good: later calls do not ask cuDNN again.
TEST(CudnnBackwardOrder, RefusedAlgorithmsAreNotTriedAgain) {
  FakeBackward cudnn(kRanking);
  cudnn.refused = {{Operands::views, 1}, {Operands::views, 3}};
  EXPECT_EQ(cudnn.call(), "packed 1");
  EXPECT_EQ(cudnn.runs_tried, 3) << "views 1, views 3 refused; packed 1 ran";
  EXPECT_EQ(cudnn.call(), "packed 1");
  EXPECT_EQ(cudnn.runs_tried, 4) << "the second call goes straight to the packed copies";
  ASSERT_EQ(cudnn.views_plan.size(), 1u);
  EXPECT_FALSE(cudnn.views_plan.front().deterministic) << "the views keep their nondeterministic candidate";
}

}  // namespace
}  // namespace microsr
