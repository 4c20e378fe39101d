// Helpers shared by the ONNX reference kernels: attributes, broadcasting, strides, the kernel table.
#include <sstream>

#include "cpu/ref/onnx_ref.h"

namespace microsr::onnx_ref {

const OnnxValue& OpContext::in(std::size_t i) const {
  require(has(i), "input " + std::to_string(i) + " is required but missing");
  return *inputs[i];
}

int64_t OpContext::attr_int(const std::string& name, int64_t fallback) const {
  const OnnxAttribute* a = node.attribute(name);
  return a ? a->i : fallback;
}
float OpContext::attr_float(const std::string& name, float fallback) const {
  const OnnxAttribute* a = node.attribute(name);
  return a ? a->f : fallback;
}
std::string OpContext::attr_string(const std::string& name, const std::string& fallback) const {
  const OnnxAttribute* a = node.attribute(name);
  return a ? a->s : fallback;
}
std::vector<int64_t> OpContext::attr_ints(const std::string& name, std::vector<int64_t> fallback) const {
  const OnnxAttribute* a = node.attribute(name);
  return a ? a->ints : fallback;
}

const KernelTable& kernel_table() {
  static const KernelTable table = [] {
    KernelTable t;
    add_elementwise_ops(t);
    add_shape_ops(t);
    add_movement_ops(t);
    add_reduce_ops(t);
    add_conv_ops(t);
    add_resize_ops(t);
    add_matmul_ops(t);
    add_fused_ops(t);
    return t;
  }();
  return table;
}

OnnxValue make_value(int32_t type, std::vector<int64_t> shape) {
  OnnxValue v;
  v.type = type;
  v.shape = std::move(shape);
  if (v.is_float())
    v.floats.assign(static_cast<std::size_t>(v.numel()), 0.0f);
  else
    v.integers.assign(static_cast<std::size_t>(v.numel()), 0);
  return v;
}

OnnxValue make_output(int32_t type, std::vector<int64_t> shape) {
  OnnxValue v;
  v.type = type;
  v.shape = std::move(shape);
  if (v.is_float())
    v.floats.resize(static_cast<std::size_t>(v.numel()));  // FloatBuffer: not initialised
  else
    v.integers.assign(static_cast<std::size_t>(v.numel()), 0);
  return v;
}

std::optional<std::vector<int64_t>> reshaped_shape(const std::vector<int64_t>& in, const OnnxValue& target_value,
                                                   bool allowzero) {
  if (target_value.is_float()) return std::nullopt;
  std::vector<int64_t> target = target_value.integers;
  int64_t total = 1, known = 1, infer = -1;
  for (int64_t d : in) total *= d;
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] == 0 && !allowzero) {
      if (i >= in.size()) return std::nullopt;
      target[i] = in[i];
    }
    if (target[i] == -1 && infer < 0) {
      infer = static_cast<int64_t>(i);
    } else {
      if (target[i] < 0) return std::nullopt;
      known *= target[i];
    }
  }
  if (infer >= 0) {
    if (known <= 0 || total % known != 0) return std::nullopt;
    target[infer] = total / known;
  }
  int64_t count = 1;
  for (int64_t d : target) count *= d;
  if (count != total) return std::nullopt;
  return target;
}

OnnxValue value_from_tensor(const OnnxTensor& t) {
  require(t.has_values, "tensor '" + t.name + "' of type " + onnx_type_name(t.data_type) +
                            " holds no values we can decode");
  OnnxValue v;
  v.type = t.data_type;
  v.shape = t.dims;
  const int64_t n = t.numel();
  if (v.is_float()) {
    if (!t.doubles.empty()) {
      v.floats.assign(t.doubles.begin(), t.doubles.end());
    } else if (n > 0) {
      const float* p = t.floats.data<float>();
      v.floats.assign(p, p + n);
    }
  } else {
    v.integers = t.integers;
  }
  return v;
}

std::vector<int64_t> as_integers(const OnnxValue& v) {
  if (!v.is_float()) return v.integers;
  std::vector<int64_t> out(v.floats.size());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int64_t>(v.floats[i]);
  return out;
}

double element(const OnnxValue& v, int64_t i) {
  return v.is_float() ? static_cast<double>(v.floats[i]) : static_cast<double>(v.integers[i]);
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::ostringstream s;
  s << "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << "]";
  return s.str();
}

std::vector<int64_t> broadcast_shapes(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  const std::size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> out(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    require(da == db || da == 1 || db == 1,
            "shapes " + shape_text(a) + " and " + shape_text(b) + " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<int64_t> strides_of(const std::vector<int64_t>& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

std::vector<int64_t> broadcast_index(const std::vector<int64_t>& in_shape, const std::vector<int64_t>& out_shape) {
  // Stride 0 along the axes the input repeats (size 1, or absent on the left).
  const std::size_t rank = out_shape.size(), lead = rank - in_shape.size();
  const std::vector<int64_t> in_strides = strides_of(in_shape);
  std::vector<int64_t> stride(rank, 0);
  for (std::size_t i = lead; i < rank; ++i) stride[i] = in_shape[i - lead] == 1 ? 0 : in_strides[i - lead];
  int64_t total = 1;
  for (int64_t d : out_shape) total *= d;
  std::vector<int64_t> index(static_cast<std::size_t>(total));
  std::vector<int64_t> counter(rank, 0);
  int64_t offset = 0;
  for (int64_t e = 0; e < total; ++e) {
    index[e] = offset;
    for (int64_t d = static_cast<int64_t>(rank) - 1; d >= 0; --d) {  // odometer step
      offset += stride[d];
      if (++counter[d] < out_shape[d]) break;
      offset -= stride[d] * counter[d];
      counter[d] = 0;
    }
  }
  return index;
}

int64_t normalize_axis(int64_t axis, int64_t rank, const char* what) {
  require(axis >= -rank && axis < std::max<int64_t>(rank, 1),
          std::string(what) + " " + std::to_string(axis) + " is outside [-" + std::to_string(rank) + ", " +
              std::to_string(rank) + ")");
  return axis < 0 ? axis + rank : axis;
}

OnnxValue gather_elements(const OnnxValue& src, const std::vector<int64_t>& shape,
                          const std::vector<int64_t>& indices) {
  OnnxValue out;
  out.type = src.type;
  out.shape = shape;
  if (src.is_float()) {
    out.floats.resize(indices.size());
    for (std::size_t i = 0; i < indices.size(); ++i) out.floats[i] = src.floats[indices[i]];
  } else {
    out.integers.resize(indices.size());
    for (std::size_t i = 0; i < indices.size(); ++i) out.integers[i] = src.integers[indices[i]];
  }
  return out;
}

}  // namespace microsr::onnx_ref
