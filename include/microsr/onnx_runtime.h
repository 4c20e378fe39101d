// Running an ONNX graph in our own engine (issue 15): no ONNX Runtime, no framework.
//
//   OnnxSession session = OnnxSession::load("sam_encoder.onnx");
//   std::map<std::string, OnnxValue> out = session.run({{"image", OnnxValue::from_floats(...)}});
//
// What happens between load and run (src/onnx/runtime*.cpp, docs/onnx.md):
//   1. load: the graph is checked against the ops we implement (an unknown op is an Error naming
//      the op and the node), put in topological order, and every node whose inputs are all
//      constants is evaluated once (constant folding); then chains such as attention
//      (MatMul → Softmax → MatMul) are fused into one node each (src/onnx/runtime_fuse.h).
//   2. first run with a given set of input shapes: shapes are inferred through the graph, the
//      shape arithmetic that depends only on input *shapes* (Shape → Gather → Concat → Reshape...)
//      is folded for those shapes, and a memory plan frees each activation after its last use.
//      The plan is cached per input shape set.
//   3. run: each remaining node is dispatched to its CPU kernel.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "microsr/onnx.h"

namespace microsr {

// std::allocator, except that a value-initialised element (what resize(n) and vector(n) make) is
// left uninitialised: a kernel that writes every element of its output allocates it without first
// zero-filling it (onnx_ref::make_output). assign(n, 0.0f) and resize(n, 0.0f) still fill.
template <class T>
struct UninitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = UninitAllocator<U>;
  };
  UninitAllocator() = default;
  template <class U>
  UninitAllocator(const UninitAllocator<U>&) noexcept {}
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
using FloatBuffer = std::vector<float, UninitAllocator<float>>;

// A value flowing through the graph. Floating types (float32, float16 and bfloat16 inputs are
// widened to float32; float64 narrowed) live in `floats`; integer and bool types in `integers`.
// Row-major, like ONNX. A scalar has an empty shape and one element.
struct OnnxValue {
  int32_t type = static_cast<int32_t>(OnnxType::float32);  // OnnxType
  std::vector<int64_t> shape;
  FloatBuffer floats;             // when is_float()
  std::vector<int64_t> integers;  // otherwise (bool: 0 or 1)

  bool is_float() const;
  int64_t numel() const;
  std::string describe() const;  // "float32 [1, 256, 64, 64]"

  static OnnxValue from_floats(std::vector<int64_t> shape, std::vector<float> values);
  static OnnxValue from_integers(std::vector<int64_t> shape, std::vector<int64_t> values,
                                 OnnxType type = OnnxType::int64);
};

// What the last run did: node counts before and after folding, time per op type, peak bytes of
// live activations under the memory plan.
struct OnnxRunStats {
  int64_t nodes_in_model = 0;
  int64_t nodes_after_load_folding = 0;
  int64_t nodes_after_fusion = 0;  // fused chains count one node each
  int64_t nodes_executed = 0;  // after folding for the input shapes
  int64_t peak_activation_bytes = 0;
  std::map<std::string, double> seconds_per_op;  // op type -> total seconds in the last run
  // Chains fused at load, by fused op type (MicrosrAttention ...); empty with MICROSR_ONNX_NO_FUSION=1.
  std::map<std::string, int64_t> fused_chains;
};

class OnnxSession {
 public:
  static OnnxSession load(const std::string& path);
  static OnnxSession from_model(OnnxModel model);
  OnnxSession(OnnxSession&&) noexcept;
  OnnxSession& operator=(OnnxSession&&) noexcept;
  ~OnnxSession();

  // The graph inputs a caller must feed (not initializers) and the graph outputs, as declared.
  const std::vector<OnnxValueInfo>& inputs() const;
  const std::vector<OnnxValueInfo>& outputs() const;

  // Runs the graph; returns every graph output by name. Throws Error for a missing or extra
  // input, a shape that contradicts a declared fixed dimension, or a kernel's shape error (naming
  // the node).
  std::map<std::string, OnnxValue> run(const std::map<std::string, OnnxValue>& feeds);

  const OnnxRunStats& stats() const;

 private:
  struct Impl;
  explicit OnnxSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace microsr
