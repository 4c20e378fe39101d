// ONNX elementwise ops with numpy broadcasting: arithmetic, comparisons, Where, unary math, Cast.
// Floats compute in float (as ONNX Runtime does); integers and bools in int64.
#include <cmath>

#include "cpu/ref/onnx_ref.h"

namespace microsr::onnx_ref {
namespace {

constexpr int32_t kBool = static_cast<int32_t>(OnnxType::boolean);

// out[i] = f(a[ia[i]], b[ib[i]]) over the broadcast shape; `f` is called with float or int64
// operands by the operands' kind and `out_type` says what the result is.
template <class F>
OnnxValue binary(const OnnxValue& a, const OnnxValue& b, int32_t out_type, F f) {
  require(a.is_float() == b.is_float(), "operands " + a.describe() + " and " + b.describe() +
                                            " mix floating and integer types (a Cast is missing)");
  std::vector<int64_t> shape = broadcast_shapes(a.shape, b.shape);
  OnnxValue out = make_value(out_type, shape);
  const int64_t n = out.numel();
  const bool same = a.shape == shape && b.shape == shape;
  std::vector<int64_t> ia, ib;
  if (!same) {
    ia = broadcast_index(a.shape, shape);
    ib = broadcast_index(b.shape, shape);
  }
  auto store = [&](int64_t i, auto value) {
    if (out.is_float())
      out.floats[i] = static_cast<float>(value);
    else
      out.integers[i] = static_cast<int64_t>(value);
  };
  if (a.is_float()) {
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i) store(i, f(a.floats[same ? i : ia[i]], b.floats[same ? i : ib[i]]));
  } else {
    for (int64_t i = 0; i < n; ++i) store(i, f(a.integers[same ? i : ia[i]], b.integers[same ? i : ib[i]]));
  }
  return out;
}

template <class F>
OpKernel arithmetic(F f) {
  return [f](const OpContext& c) { return outputs_of(binary(c.in(0), c.in(1), c.in(0).type, f)); };
}
template <class F>
OpKernel comparison(F f) {
  return [f](const OpContext& c) {
    return outputs_of(binary(c.in(0), c.in(1), kBool, [f](auto x, auto y) -> int64_t { return f(x, y); }));
  };
}

// Unary float math; integer inputs are refused unless `integers_too`.
template <class F>
OpKernel unary(F f, bool integers_too = false) {
  return [f, integers_too](const OpContext& c) {
    const OnnxValue& x = c.in(0);
    OnnxValue out = make_value(x.type, x.shape);
    const int64_t n = x.numel();
    if (x.is_float()) {
#pragma omp parallel for if (n > 65536)
      for (int64_t i = 0; i < n; ++i) out.floats[i] = f(x.floats[i]);
    } else {
      require(integers_too, "input " + x.describe() + ": this op takes floating types only");
      for (int64_t i = 0; i < n; ++i) out.integers[i] = static_cast<int64_t>(f(static_cast<float>(x.integers[i])));
    }
    return outputs_of(std::move(out));
  };
}

// Python's modulo (the sign of the divisor) for fmod = 0, C's fmod (the sign of the dividend) for 1.
std::vector<OnnxValue> mod(const OpContext& c) {
  const bool c_style = c.attr_int("fmod", 0) != 0;
  const OnnxValue& a = c.in(0);
  require(c_style || !a.is_float(), "Mod on floats needs fmod = 1");
  return outputs_of(binary(a, c.in(1), a.type, [c_style](auto x, auto y) {
    using T = decltype(x);
    if constexpr (std::is_floating_point_v<T>) {
      return std::fmod(x, y);
    } else {
      require(y != 0, "Mod: division by zero");
      T r = x % y;
      if (!c_style && r != 0 && ((r < 0) != (y < 0))) r += y;
      return r;
    }
  }));
}

std::vector<OnnxValue> div(const OpContext& c) {
  return outputs_of(binary(c.in(0), c.in(1), c.in(0).type, [](auto x, auto y) {
    if constexpr (!std::is_floating_point_v<decltype(x)>) require(y != 0, "Div: integer division by zero");
    return x / y;
  }));
}

std::vector<OnnxValue> pow_op(const OpContext& c) {
  const OnnxValue& base = c.in(0);
  OnnxValue exponent = c.in(1);
  // The exponent may be of another type than the base; bring it to the base's kind.
  if (exponent.is_float() != base.is_float()) {
    OnnxValue e = make_value(base.type, exponent.shape);
    for (int64_t i = 0; i < e.numel(); ++i) {
      if (e.is_float())
        e.floats[i] = static_cast<float>(exponent.integers[i]);
      else
        e.integers[i] = static_cast<int64_t>(exponent.floats[i]);
    }
    exponent = std::move(e);
  }
  return outputs_of(binary(base, exponent, base.type, [](auto x, auto y) {
    using T = decltype(x);
    if constexpr (std::is_floating_point_v<T>) {
      if (y == 2.0f) return x * x;  // the common case, exact
      return std::pow(x, y);
    } else {
      return static_cast<T>(std::pow(static_cast<double>(x), static_cast<double>(y)));
    }
  }));
}

// Where(condition, X, Y): X where condition else Y, all three broadcast.
std::vector<OnnxValue> where(const OpContext& c) {
  const OnnxValue &cond = c.in(0), &x = c.in(1), &y = c.in(2);
  require(!cond.is_float(), "Where: the condition must be bool, found " + cond.describe());
  require(x.is_float() == y.is_float(), "Where: X " + x.describe() + " and Y " + y.describe() + " differ in type");
  const std::vector<int64_t> shape = broadcast_shapes(broadcast_shapes(cond.shape, x.shape), y.shape);
  OnnxValue out = make_value(x.type, shape);
  const std::vector<int64_t> ic = broadcast_index(cond.shape, shape), ix = broadcast_index(x.shape, shape),
                             iy = broadcast_index(y.shape, shape);
  for (int64_t i = 0; i < out.numel(); ++i) {
    const bool pick_x = cond.integers[ic[i]] != 0;
    if (out.is_float())
      out.floats[i] = pick_x ? x.floats[ix[i]] : y.floats[iy[i]];
    else
      out.integers[i] = pick_x ? x.integers[ix[i]] : y.integers[iy[i]];
  }
  return outputs_of(std::move(out));
}

std::vector<OnnxValue> not_op(const OpContext& c) {
  const OnnxValue& x = c.in(0);
  require(!x.is_float(), "Not takes bool, found " + x.describe());
  OnnxValue out = make_value(kBool, x.shape);
  for (int64_t i = 0; i < x.numel(); ++i) out.integers[i] = x.integers[i] == 0;
  return outputs_of(std::move(out));
}

// Cast to `to`: float -> integer truncates toward zero, anything -> bool is (x != 0), float16 rounds
// through half precision.
std::vector<OnnxValue> cast(const OpContext& c) {
  const OnnxValue& x = c.in(0);
  const auto to = static_cast<int32_t>(c.attr_int("to", 0));
  OnnxValue out = make_value(to, x.shape);
  require(onnx_type_size(to) > 0 && to != static_cast<int32_t>(OnnxType::string),
          "Cast to " + onnx_type_name(to) + " is not supported");
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) {
    const double v = element(x, i);
    if (out.is_float()) {
      float f = static_cast<float>(v);
      if (to == static_cast<int32_t>(OnnxType::float16)) f = half_to_float(float_to_half(f));
      out.floats[i] = f;
    } else if (to == kBool) {
      out.integers[i] = v != 0.0;
    } else {
      out.integers[i] = x.is_float() ? static_cast<int64_t>(std::trunc(v)) : x.integers[i];
    }
  }
  return outputs_of(std::move(out));
}

// Max / Min / Sum over any number of inputs, broadcast.
template <class F>
OpKernel variadic(F f) {
  return [f](const OpContext& c) {
    OnnxValue acc = c.in(0);
    for (std::size_t i = 1; i < c.inputs.size(); ++i) acc = binary(acc, c.in(i), acc.type, f);
    return outputs_of(std::move(acc));
  };
}

// Clip(x, min, max) with optional bounds.
std::vector<OnnxValue> clip(const OpContext& c) {
  const OnnxValue& x = c.in(0);
  OnnxValue out = x;
  const double lo = c.has(1) ? element(c.in(1), 0) : -INFINITY, hi = c.has(2) ? element(c.in(2), 0) : INFINITY;
  for (int64_t i = 0; i < out.numel(); ++i) {
    if (out.is_float())
      out.floats[i] = static_cast<float>(std::min(std::max(static_cast<double>(out.floats[i]), lo), hi));
    else
      out.integers[i] = static_cast<int64_t>(std::min(std::max(static_cast<double>(out.integers[i]), lo), hi));
  }
  return outputs_of(std::move(out));
}

}  // namespace

void add_elementwise_ops(KernelTable& t) {
  t["Add"] = arithmetic([](auto x, auto y) { return x + y; });
  t["Sub"] = arithmetic([](auto x, auto y) { return x - y; });
  t["Mul"] = arithmetic([](auto x, auto y) { return x * y; });
  t["Div"] = div;
  t["Pow"] = pow_op;
  t["Mod"] = mod;
  t["Max"] = variadic([](auto x, auto y) { return x > y ? x : y; });
  t["Min"] = variadic([](auto x, auto y) { return x < y ? x : y; });
  t["Sum"] = variadic([](auto x, auto y) { return x + y; });
  t["Equal"] = comparison([](auto x, auto y) { return x == y; });
  t["Less"] = comparison([](auto x, auto y) { return x < y; });
  t["LessOrEqual"] = comparison([](auto x, auto y) { return x <= y; });
  t["Greater"] = comparison([](auto x, auto y) { return x > y; });
  t["GreaterOrEqual"] = comparison([](auto x, auto y) { return x >= y; });
  t["And"] = comparison([](auto x, auto y) { return x != 0 && y != 0; });
  t["Or"] = comparison([](auto x, auto y) { return x != 0 || y != 0; });
  t["Where"] = where;
  t["Not"] = not_op;
  t["Cast"] = cast;
  t["Clip"] = clip;
  t["Identity"] = [](const OpContext& c) { return outputs_of(c.in(0)); };
  t["Cos"] = unary([](float x) { return std::cos(x); });
  t["Sin"] = unary([](float x) { return std::sin(x); });
  t["Erf"] = unary([](float x) { return std::erf(x); });
  t["Exp"] = unary([](float x) { return std::exp(x); });
  t["Log"] = unary([](float x) { return std::log(x); });
  t["Tanh"] = unary([](float x) { return std::tanh(x); });
  t["Sigmoid"] = unary([](float x) { return 1.0f / (1.0f + std::exp(-x)); });
  t["Sqrt"] = unary([](float x) { return std::sqrt(x); });
  t["Reciprocal"] = unary([](float x) { return 1.0f / x; });
  t["Floor"] = unary([](float x) { return std::floor(x); });
  t["Ceil"] = unary([](float x) { return std::ceil(x); });
  t["Relu"] = unary([](float x) { return x > 0.0f ? x : 0.0f; }, true);
  t["Neg"] = unary([](float x) { return -x; }, true);
  t["Abs"] = unary([](float x) { return std::fabs(x); }, true);
}

}  // namespace microsr::onnx_ref
