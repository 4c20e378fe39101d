// OnnxValue: the values that flow through the graph runtime (include/microsr/onnx_runtime.h).
#include <sstream>

#include "microsr/onnx_runtime.h"

namespace microsr {

bool OnnxValue::is_float() const {
  const auto t = static_cast<OnnxType>(type);
  return t == OnnxType::float32 || t == OnnxType::float16 || t == OnnxType::bfloat16 || t == OnnxType::float64;
}

int64_t OnnxValue::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string OnnxValue::describe() const {
  std::ostringstream s;
  s << onnx_type_name(type) << " [";
  for (std::size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << "]";
  return s.str();
}

OnnxValue OnnxValue::from_floats(std::vector<int64_t> shape, std::vector<float> values) {
  OnnxValue v;
  v.type = static_cast<int32_t>(OnnxType::float32);
  v.shape = std::move(shape);
  v.floats.assign(values.begin(), values.end());
  require(static_cast<int64_t>(v.floats.size()) == v.numel(),
          "OnnxValue::from_floats: " + std::to_string(v.floats.size()) + " values for shape " + v.describe());
  return v;
}

OnnxValue OnnxValue::from_integers(std::vector<int64_t> shape, std::vector<int64_t> values, OnnxType type) {
  OnnxValue v;
  v.type = static_cast<int32_t>(type);
  require(!v.is_float(), "OnnxValue::from_integers: " + onnx_type_name(v.type) + " is a floating type");
  v.shape = std::move(shape);
  v.integers = std::move(values);
  require(static_cast<int64_t>(v.integers.size()) == v.numel(),
          "OnnxValue::from_integers: " + std::to_string(v.integers.size()) + " values for shape " + v.describe());
  return v;
}

}  // namespace microsr
