// Consistency cases of the CUDA elementwise family (see backend_ops.h): every
// op of src/backends/cuda/kernels/elementwise*.cu on each dtype family it
// takes, broadcasting of different ranks, scalars, odd and empty sizes,
// NaN/Inf, integer wrap-around and signs, Cast pairs, legacy attributes.
#include <cmath>
#include <cstdint>
#include <limits>

#include "backend_ops.h"
#include "core/half.h"

namespace kiln::test::ops {

namespace {

using Attrs = std::map<std::string, ir::Attribute>;
constexpr DataType F32 = DataType::Float32, F64 = DataType::Float64, F16 = DataType::Float16,
                   BF16 = DataType::BFloat16, I8 = DataType::Int8, I16 = DataType::Int16, I32 = DataType::Int32,
                   I64 = DataType::Int64, U8 = DataType::UInt8, U16 = DataType::UInt16, U32 = DataType::UInt32,
                   U64 = DataType::UInt64, BOOL = DataType::Bool;
constexpr double k_nan = std::numeric_limits<double>::quiet_NaN();
constexpr double k_inf = std::numeric_limits<double>::infinity();
constexpr int64_t k_i64_min = std::numeric_limits<int64_t>::min();
constexpr int64_t k_i64_max = std::numeric_limits<int64_t>::max();
constexpr int64_t k_i32_min = std::numeric_limits<int32_t>::min();
constexpr int64_t k_i32_max = std::numeric_limits<int32_t>::max();

bool is_float(DataType dt) { return dt == F32 || dt == F64 || dt == F16 || dt == BF16; }
bool is_unsigned(DataType dt) { return dt == U8 || dt == U16 || dt == U32 || dt == U64; }

std::string dn(DataType dt) {
  switch (dt) {
    case F32: return "f32";
    case F64: return "f64";
    case F16: return "f16";
    case BF16: return "bf16";
    case BOOL: return "bool";
    default: return std::string(dtype_name(dt));
  }
}

// Tolerance by output dtype: 1e-6 (f32 arithmetic) or 1e-5 (transcendental),
// 1e-9 for f64, 1e-3 for f16, and one bf16 ulp (1e-2) where float results may
// differ in their last bit before rounding to bf16.
double tol_of(DataType dt, bool trans) {
  if (dt == F64) return 1e-9;
  if (dt == F16) return 1e-3;
  if (dt == BF16) return trans ? 1e-2 : 1e-3;
  return trans ? 1e-5 : 1e-6;
}

// Exact values in any float dtype.
Tensor floats(DataType dt, Shape s, const std::vector<double>& v) {
  Tensor t = Tensor::empty(dt, std::move(s));
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double x = v[static_cast<size_t>(i)];
    if (dt == F32) t.data<float>()[i] = static_cast<float>(x);
    else if (dt == F64) t.data<double>()[i] = x;
    else if (dt == F16) t.data<Half>()[i] = Half(static_cast<float>(x));
    else t.data<BFloat16>()[i] = BFloat16(static_cast<float>(x));
  }
  return t;
}

// Exact values in any integer dtype (or bool), wrapped to its width.
Tensor ints(DataType dt, Shape s, const std::vector<int64_t>& v) {
  Tensor t = Tensor::empty(dt, std::move(s));
  for (int64_t i = 0; i < t.numel(); ++i) {
    const int64_t x = v[static_cast<size_t>(i)];
    switch (dt) {
      case BOOL: t.data<bool>()[i] = x != 0; break;
      case I8: t.data<int8_t>()[i] = static_cast<int8_t>(x); break;
      case I16: t.data<int16_t>()[i] = static_cast<int16_t>(x); break;
      case I32: t.data<int32_t>()[i] = static_cast<int32_t>(x); break;
      case I64: t.data<int64_t>()[i] = x; break;
      case U8: t.data<uint8_t>()[i] = static_cast<uint8_t>(x); break;
      case U16: t.data<uint16_t>()[i] = static_cast<uint16_t>(x); break;
      case U32: t.data<uint32_t>()[i] = static_cast<uint32_t>(x); break;
      default: t.data<uint64_t>()[i] = static_cast<uint64_t>(x); break;
    }
  }
  return t;
}

// Random values of any dtype in [lo, hi] (integers: clamped to >= 0 for
// unsigned types).
Tensor rnd(DataType dt, Shape s, uint32_t seed, double lo, double hi) {
  if (is_float(dt)) return rand_float(dt, std::move(s), seed, static_cast<float>(lo), static_cast<float>(hi));
  if (is_unsigned(dt) && lo < 0) lo = 0;
  return rand_int(dt, std::move(s), seed, static_cast<int64_t>(lo), static_cast<int64_t>(hi));
}

// Random nonzero integers in [-m, m] (divisors).
Tensor nonzero(DataType dt, Shape s, uint32_t seed, int64_t m) {
  const Tensor r = rand_int(I64, s, seed, 1, m);
  const Tensor sign = rand_int(I64, s, seed + 99, 0, 1);
  std::vector<int64_t> v(static_cast<size_t>(r.numel()));
  for (size_t i = 0; i < v.size(); ++i) {
    const int64_t x = r.data<int64_t>()[i];
    v[i] = (sign.data<int64_t>()[i] && !is_unsigned(dt)) ? -x : x;
  }
  return ints(dt, std::move(s), v);
}

OpCase mk(std::string name, std::string op, std::vector<Tensor> in, double tol = 0, Attrs attrs = {},
          int64_t opset = 21, int outs = 1) {
  OpCase c;
  c.name = std::move(name);
  c.op = std::move(op);
  c.inputs = std::move(in);
  c.attrs = std::move(attrs);
  c.tol = tol;
  c.opset = opset;
  c.num_outputs = outs;
  return c;
}

const std::vector<DataType> k_floats = {F32, F16, BF16, F64};
const std::vector<DataType> k_ints = {I8, I16, I32, I64, U8, U16, U32, U64};

struct UnarySpec {
  const char* op;
  double lo, hi;
  bool trans;
  Attrs attrs = {};
};

void unary_cases(std::vector<OpCase>& c) {
  const std::vector<UnarySpec> specs = {
      {"Exp", -5, 5, true}, {"Log", 0.01, 10, true}, {"Sqrt", 0, 10, false}, {"Reciprocal", 0.1, 4, false},
      {"Floor", -10, 10, false}, {"Ceil", -10, 10, false}, {"Round", -10, 10, false}, {"Tanh", -5, 5, true},
      {"Sin", -10, 10, true}, {"Cos", -10, 10, true}, {"Tan", -1.4, 1.4, true}, {"Asin", -1, 1, true},
      {"Acos", -1, 1, true}, {"Atan", -10, 10, true}, {"Sinh", -5, 5, true}, {"Cosh", -5, 5, true},
      {"Asinh", -10, 10, true}, {"Acosh", 1, 10, true}, {"Atanh", -0.99, 0.99, true}, {"Erf", -3, 3, true},
      {"Neg", -5, 5, false}, {"Abs", -5, 5, false}, {"Sign", -2, 2, false},
      {"Relu", -5, 5, false}, {"Sigmoid", -20, 20, true}, {"Softplus", -30, 30, true},
      {"Softsign", -5, 5, false}, {"HardSwish", -5, 5, false}, {"HardSigmoid", -5, 5, true},
      {"Mish", -10, 10, true}, {"Elu", -5, 5, true}, {"Selu", -5, 5, true}, {"Celu", -5, 5, true},
      {"LeakyRelu", -5, 5, false}, {"ThresholdedRelu", -3, 3, false}, {"Gelu", -5, 5, true},
      {"Gelu", -5, 5, true, {{"approximate", a_str("tanh")}}}, {"Shrink", -2, 2, false},
      {"LeakyRelu", -5, 5, false, {{"alpha", a_float(0.3f)}}},
      {"HardSigmoid", -5, 5, true, {{"alpha", a_float(0.3f)}, {"beta", a_float(0.4f)}}},
      {"Elu", -5, 5, true, {{"alpha", a_float(0.5f)}}},
      {"Selu", -5, 5, true, {{"alpha", a_float(1.5f)}, {"gamma", a_float(2.f)}}},
      {"Celu", -5, 5, true, {{"alpha", a_float(2.f)}}},
      {"ThresholdedRelu", -3, 3, false, {{"alpha", a_float(0.5f)}}},
      {"Shrink", -2, 2, false, {{"lambd", a_float(1.f)}, {"bias", a_float(0.25f)}}},
  };
  uint32_t seed = 1;
  for (const UnarySpec& s : specs) {
    const std::string tag = std::string(s.op) + (s.attrs.empty() ? "" : " attrs");
    const std::vector<std::pair<DataType, Shape>> runs = {{F32, {1031}}, {F32, {1}}, {F16, {3, 5}}, {BF16, {7}},
                                                           {F64, {2, 3}}};
    for (const auto& [dt, shape] : runs)
      c.push_back(mk(tag + " " + dn(dt) + " " + shape_str(shape), s.op, {rnd(dt, shape, seed++, s.lo, s.hi)},
                     tol_of(dt, s.trans), s.attrs));
  }
  for (const char* op : {"Exp", "Relu", "Sigmoid", "Neg", "Gelu"})
    c.push_back(mk(std::string(op) + " f32 empty", op, {rnd(F32, {0, 3}, 5, -1, 1)}, 1e-6));

  // Special values: NaN, +-Inf, +-0, halves (Round is half to even).
  const std::vector<double> sp = {k_nan, k_inf, -k_inf, 0.0, -0.0, 1.0, -1.0, 2.5, -2.5, 0.5, -0.5, 1.5};
  for (DataType dt : k_floats) {
    const Shape s = {12};
    c.push_back(mk("IsNaN " + dn(dt) + " specials", "IsNaN", {floats(dt, s, sp)}));
    c.push_back(mk("IsInf " + dn(dt) + " specials", "IsInf", {floats(dt, s, sp)}));
    for (const char* op : {"Round", "Sign", "Abs", "Floor", "Ceil", "Relu", "Sqrt", "Log", "Exp", "Tanh", "Sigmoid",
                           "HardSigmoid", "Softplus", "Erf"})
      c.push_back(mk(std::string(op) + " " + dn(dt) + " specials", op, {floats(dt, s, sp)}, tol_of(dt, true)));
  }
  c.push_back(mk("IsInf f32 positive only", "IsInf", {floats(F32, {12}, sp)}, 0, {{"detect_negative", a_int(0)}}));
  c.push_back(mk("IsInf f32 negative only", "IsInf", {floats(F32, {12}, sp)}, 0, {{"detect_positive", a_int(0)}}));
  c.push_back(mk("Round f32 large halves", "Round",
                 {floats(F32, {6}, {4194304.5, 4194305.5, -4194304.5, 0.49999997, -3.5, 1e30})}, 0));

  // Integer unary ops: wrap-around at the minimum, signs, erf saturation.
  for (DataType dt : {I8, I16, I32, I64}) {
    const int64_t lo = dt == I8 ? -128 : dt == I16 ? -32768 : dt == I32 ? k_i32_min : k_i64_min;
    const Tensor x = ints(dt, {9}, {lo, lo + 1, -7, -6, -5, -1, 0, 5, 6});
    for (const char* op : {"Abs", "Neg", "Sign", "Relu", "Erf", "BitwiseNot"})
      c.push_back(mk(std::string(op) + " " + dn(dt), op, {x}));
    c.push_back(mk("Shrink " + dn(dt), "Shrink", {x}, 0, {{"lambd", a_float(1.5f)}, {"bias", a_float(1.f)}}));
  }
  for (DataType dt : {U8, U16, U32, U64}) {
    const Tensor x = ints(dt, {6}, {0, 1, 5, 6, 7, -1});
    for (const char* op : {"Abs", "Sign", "Erf", "BitwiseNot"})
      c.push_back(mk(std::string(op) + " " + dn(dt), op, {x}));
    c.push_back(mk("Shrink " + dn(dt), "Shrink", {x}, 0, {{"lambd", a_float(1.5f)}, {"bias", a_float(1.f)}}));
  }
  c.push_back(mk("Not bool [4,5]", "Not", {rand_int(BOOL, {4, 5}, 3, 0, 1)}));
  c.push_back(mk("Not bool empty", "Not", {rand_int(BOOL, {0}, 3, 0, 1)}));
}

void clip_cases(std::vector<OpCase>& c) {
  const Tensor none;
  for (DataType dt : {F32, F16, BF16, F64, I32, I64, I8, U8}) {
    const Tensor x = rnd(dt, {1031}, 40, -50, 50);
    const Tensor lo = is_float(dt) ? floats(dt, {}, {-20.5}) : ints(dt, {}, {is_unsigned(dt) ? 10 : -20});
    const Tensor hi = is_float(dt) ? floats(dt, {}, {30.25}) : ints(dt, {}, {30});
    const double tol = tol_of(dt, false);
    c.push_back(mk("Clip " + dn(dt) + " min max", "Clip", {x, lo, hi}, tol));
    c.push_back(mk("Clip " + dn(dt) + " min only", "Clip", {x, lo}, tol));
    c.push_back(mk("Clip " + dn(dt) + " max only", "Clip", {x, none, hi}, tol));
    c.push_back(mk("Clip " + dn(dt) + " no bounds", "Clip", {x}, tol));
  }
  const Tensor sp = floats(F32, {5}, {k_nan, k_inf, -k_inf, 3, -3});
  c.push_back(mk("Clip f32 specials", "Clip", {sp, floats(F32, {}, {-1}), floats(F32, {}, {1})}));
  c.push_back(mk("Clip f32 min > max", "Clip", {rnd(F32, {7}, 41, -5, 5), floats(F32, {}, {2}), floats(F32, {}, {1})}));
  c.push_back(mk("Clip f32 empty", "Clip", {rnd(F32, {0}, 41, -5, 5), floats(F32, {}, {0}), floats(F32, {}, {1})}));
  c.push_back(
      mk("Clip i64 large bounds", "Clip",
         {ints(I64, {3}, {k_i64_min, 0, k_i64_max}), ints(I64, {}, {k_i64_min + 3}), ints(I64, {}, {k_i64_max - 5})}));
  // Opset < 11: attributes.
  c.push_back(mk("Clip opset6 attrs", "Clip", {rnd(F32, {3, 5}, 42, -3, 3)}, 1e-6,
                 {{"min", a_float(-1.f)}, {"max", a_float(0.5f)}}, 6));
  c.push_back(
      mk("Clip opset6 max attr only", "Clip", {rnd(F32, {3, 5}, 43, -3, 3)}, 1e-6, {{"max", a_float(0.5f)}}, 6));
  c.push_back(mk("Clip opset6 no attrs", "Clip", {rnd(F16, {4}, 44, -3, 3)}, 1e-3, {}, 6));
}

// Operand shape pairs: same shape, trailing broadcast, both sides, scalars,
// different ranks, a size-1 tensor, a middle dim.
const std::vector<std::pair<Shape, Shape>> k_shapes = {
    {{1031}, {1031}}, {{2, 3, 4}, {4}},       {{2, 1, 4}, {3, 1}}, {{}, {5, 7}}, {{5, 7}, {}},
    {{4, 1, 3, 1, 2}, {5, 3, 1, 1}}, {{1}, {3}}, {{2, 3, 4, 5}, {3, 1, 5}}, {{3}, {3}},
};

void arith_cases(std::vector<OpCase>& c) {
  uint32_t seed = 100;
  const std::vector<DataType> all = {F32, F16, BF16, F64, I8, I16, I32, I64, U8, U16, U32, U64};
  size_t k = 0;
  for (const char* op : {"Add", "Sub", "Mul", "Div"}) {
    for (DataType dt : all) {
      const auto& [sa, sb] = k_shapes[k++ % k_shapes.size()];
      const double lim = dt == I8 || dt == U8 ? 127 : 1000;
      const Tensor a = rnd(dt, sa, seed++, -lim, lim);
      const Tensor b = std::string(op) == "Div"
                           ? (is_float(dt) ? rnd(dt, sb, seed++, 0.5, 4) : nonzero(dt, sb, seed++, 9))
                           : rnd(dt, sb, seed++, -lim, lim);
      c.push_back(mk(std::string(op) + " " + dn(dt) + " " + shape_str(sa) + "," + shape_str(sb), op, {a, b},
                     tol_of(dt, false)));
    }
  }
  for (const auto& [sa, sb] : k_shapes)
    c.push_back(mk("Add f32 shapes " + shape_str(sa) + "," + shape_str(sb), "Add",
                   {rnd(F32, sa, seed++, -1, 1), rnd(F32, sb, seed++, -1, 1)}, 1e-6));
  c.push_back(mk("Mul f32 empty", "Mul", {rnd(F32, {0, 3}, 1, -1, 1), rnd(F32, {3}, 2, -1, 1)}, 1e-6));
  c.push_back(
      mk("Sub f16 [4,1,6]-[1,5,1]", "Sub", {rnd(F16, {4, 1, 6}, 3, -1, 1), rnd(F16, {1, 5, 1}, 4, -1, 1)}, 1e-3));
  // Wrap-around and truncating division.
  c.push_back(
      mk("Add i32 wrap", "Add", {ints(I32, {3}, {k_i32_max, k_i32_min, -1}), ints(I32, {3}, {1, -1, k_i32_min})}));
  c.push_back(mk("Mul i64 wrap", "Mul",
                 {ints(I64, {3}, {k_i64_max, k_i64_min, 3037000500}), ints(I64, {3}, {2, -1, 3037000500})}));
  c.push_back(mk("Sub u8 wrap", "Sub", {ints(U8, {3}, {0, 1, 200}), ints(U8, {3}, {1, 2, 100})}));
  c.push_back(mk("Mul i8 wrap", "Mul", {ints(I8, {3}, {100, -128, 64}), ints(I8, {3}, {3, -1, 2})}));
  c.push_back(mk("Div i32 signs", "Div",
                 {ints(I32, {6}, {k_i32_min, 7, -7, 7, -7, 0}), ints(I32, {6}, {-1, 2, 2, -2, -2, 3})}));
  c.push_back(mk("Div i8 min/-1", "Div", {ints(I8, {2}, {-128, -127}), ints(I8, {2}, {-1, -1})}));
  c.push_back(mk("Div i64 min/-1", "Div", {ints(I64, {2}, {k_i64_min, 9}), ints(I64, {2}, {-1, -4})}));
  c.push_back(mk("Div f32 by zero", "Div", {floats(F32, {4}, {1, -1, 0, k_nan}), floats(F32, {4}, {0, 0, 0, 1})}));
  // Legacy (opset < 7) broadcasting: broadcast=1 with axis, without (suffix), and equal shapes.
  const Attrs legacy_axis = {{"broadcast", a_int(1)}, {"axis", a_int(1)}};
  c.push_back(mk("Add opset6 axis=1", "Add", {rnd(F32, {2, 3, 4, 5}, 7, -1, 1), rnd(F32, {3, 4}, 8, -1, 1)}, 1e-6,
                 legacy_axis, 6));
  c.push_back(mk("Mul opset6 axis=0", "Mul", {rnd(F32, {2, 3}, 9, -1, 1), rnd(F32, {2}, 10, -1, 1)}, 1e-6,
                 {{"broadcast", a_int(1)}, {"axis", a_int(0)}}, 6));
  c.push_back(mk("Sub opset6 suffix", "Sub", {rnd(F32, {2, 3, 4}, 11, -1, 1), rnd(F32, {4}, 12, -1, 1)}, 1e-6,
                 {{"broadcast", a_int(1)}}, 6));
  c.push_back(mk("Div opset6 scalar", "Div", {rnd(F32, {2, 3}, 13, -1, 1), floats(F32, {}, {4})}, 1e-6,
                 {{"broadcast", a_int(1)}}, 6));
  c.push_back(mk("Add opset6 same", "Add", {rnd(I32, {2, 3}, 14, -9, 9), rnd(I32, {2, 3}, 15, -9, 9)}, 0, {}, 6));
  c.push_back(mk("Equal opset6 axis=1", "Equal", {rnd(I64, {2, 3, 4}, 16, 0, 2), rnd(I64, {3}, 17, 0, 2)}, 0,
                 legacy_axis, 6));

  // Pow: same dtype, negative bases, mixed exponent dtypes, integer powers.
  c.push_back(mk("Pow f32 [1031]", "Pow", {rnd(F32, {1031}, 20, 0.1, 3), rnd(F32, {1031}, 21, -2, 2)}, 1e-5));
  c.push_back(mk("Pow f32 negative base", "Pow",
                 {floats(F32, {6}, {-2, -2, -3, -0.5, -2, 0}), floats(F32, {6}, {2, 3, -1, 2, 0.5, -1})}, 1e-5));
  c.push_back(mk("Pow f32^i64", "Pow", {rnd(F32, {2, 5}, 22, -3, 3), ints(I64, {5}, {0, 1, 2, 3, -1})}, 1e-5));
  c.push_back(mk("Pow f32^i32 scalar", "Pow", {rnd(F32, {7}, 23, -3, 3), ints(I32, {}, {2})}, 1e-5));
  c.push_back(mk("Pow f16", "Pow", {rnd(F16, {3, 4}, 24, 0.5, 2), rnd(F16, {4}, 25, -2, 2)}, 1e-3));
  c.push_back(mk("Pow bf16^f32", "Pow", {rnd(BF16, {6}, 26, 0.5, 2), rnd(F32, {6}, 27, -2, 2)}, 1e-2));
  c.push_back(mk("Pow f64", "Pow", {rnd(F64, {2, 3}, 28, 0.1, 3), rnd(F64, {2, 3}, 29, -2, 2)}, 1e-9));
  c.push_back(mk("Pow i32^i32", "Pow",
                 {ints(I32, {8}, {2, -3, 0, 5, 1, -1, 2, 7}), ints(I32, {8}, {10, 3, 0, -1, -5, -3, 31, 20})}));
  c.push_back(mk("Pow i64^i64", "Pow", {ints(I64, {4}, {3, -2, 10, 7}), ints(I64, {4}, {39, 63, 18, 0})}));
  c.push_back(mk("Pow i8^i8", "Pow", {ints(I8, {4}, {3, -2, 2, 5}), ints(I8, {4}, {5, 7, 8, 2})}));
  c.push_back(mk("Pow u8^i64", "Pow", {ints(U8, {3}, {3, 2, 255}), ints(I64, {3}, {5, 9, 2})}));
  c.push_back(
      mk("Pow i64^f32", "Pow", {ints(I64, {6}, {3, 16, -2, 5, 9, 2}), floats(F32, {6}, {2, 0.5, 3, 1.5, 0.5, -1})}));
  c.push_back(mk("Pow i32^f64 scalar", "Pow", {ints(I32, {4}, {1, 2, 3, 4}), floats(F64, {}, {3})}));
  c.push_back(mk("Pow opset6 broadcast", "Pow", {rnd(F32, {2, 3}, 30, 0.5, 2), rnd(F32, {3}, 31, -1, 1)}, 1e-5,
                 {{"broadcast", a_int(1)}}, 6));

  // Mod: Python (fmod=0) and C (fmod=1) signs, MIN % -1, floats, broadcasting.
  const std::vector<int64_t> ma = {7, -7, 7, -7, 0, -128, 13, -13};
  const std::vector<int64_t> mb = {3, 3, -3, -3, 5, -1, 5, 5};
  for (DataType dt : {I8, I16, I32, I64}) {
    c.push_back(mk("Mod " + dn(dt) + " fmod=0", "Mod", {ints(dt, {8}, ma), ints(dt, {8}, mb)}));
    c.push_back(
        mk("Mod " + dn(dt) + " fmod=1", "Mod", {ints(dt, {8}, ma), ints(dt, {8}, mb)}, 0, {{"fmod", a_int(1)}}));
  }
  c.push_back(mk("Mod u8", "Mod", {ints(U8, {4}, {7, 200, 0, 255}), ints(U8, {4}, {3, 7, 5, 16})}));
  c.push_back(
      mk("Mod u64 fmod=1", "Mod", {ints(U64, {3}, {7, -1, 100}), ints(U64, {3}, {3, 10, 7})}, 0, {{"fmod", a_int(1)}}));
  c.push_back(mk("Mod i32 broadcast", "Mod", {rnd(I32, {4, 3}, 32, -50, 50), ints(I32, {3}, {7, -5, 3})}));
  for (DataType dt : k_floats)
    c.push_back(mk("Mod " + dn(dt) + " fmod=1", "Mod",
                   {floats(dt, {6}, {5.5, -5.5, 5.5, -5.5, 0.25, 3}), floats(dt, {6}, {2, 2, -2, -2, 0.5, 0.75})},
                   tol_of(dt, false), {{"fmod", a_int(1)}}));

  // PRelu: slope broadcast onto X.
  c.push_back(
      mk("PRelu f32 slope [3,1,1]", "PRelu", {rnd(F32, {2, 3, 4, 5}, 33, -1, 1), rnd(F32, {3, 1, 1}, 34, 0, 1)}, 1e-6));
  c.push_back(mk("PRelu f32 slope [5]", "PRelu", {rnd(F32, {2, 3, 4, 5}, 35, -1, 1), rnd(F32, {5}, 36, 0, 1)}, 1e-6));
  c.push_back(mk("PRelu f32 slope scalar", "PRelu", {rnd(F32, {1031}, 37, -1, 1), floats(F32, {}, {0.25})}, 1e-6));
  c.push_back(mk("PRelu f16", "PRelu", {rnd(F16, {3, 4}, 38, -1, 1), rnd(F16, {4}, 39, 0, 1)}, 1e-3));
  c.push_back(mk("PRelu bf16 same", "PRelu", {rnd(BF16, {3, 4}, 40, -1, 1), rnd(BF16, {3, 4}, 41, 0, 1)}, 1e-3));
  c.push_back(mk("PRelu i32", "PRelu", {rnd(I32, {6}, 42, -9, 9), ints(I32, {6}, {2, 3, -1, 0, 5, k_i32_max})}));
  c.push_back(mk("PRelu f64", "PRelu", {rnd(F64, {2, 2}, 43, -1, 1), rnd(F64, {2, 1}, 44, 0, 1)}, 1e-9));
}

void logic_cases(std::vector<OpCase>& c) {
  uint32_t seed = 300;
  const std::vector<DataType> cmp_types = {F32, F16, BF16, F64, I8, I16, I32, I64, U8, U16, U32, U64};
  size_t k = 0;
  for (const char* op : {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"}) {
    for (DataType dt : cmp_types) {
      const auto& [sa, sb] = k_shapes[k++ % k_shapes.size()];
      // Small integers so equal values are common.
      const Tensor ia = rand_int(I64, sa, seed++, -3, 3), ib = rand_int(I64, sb, seed++, -3, 3);
      std::vector<int64_t> va(ia.data<int64_t>(), ia.data<int64_t>() + ia.numel());
      std::vector<int64_t> vb(ib.data<int64_t>(), ib.data<int64_t>() + ib.numel());
      Tensor ta, tb;
      if (is_float(dt)) {
        ta = floats(dt, sa, std::vector<double>(va.begin(), va.end()));
        tb = floats(dt, sb, std::vector<double>(vb.begin(), vb.end()));
      } else {
        ta = ints(dt, sa, va);
        tb = ints(dt, sb, vb);
      }
      c.push_back(mk(std::string(op) + " " + dn(dt) + " " + shape_str(sa) + "," + shape_str(sb), op, {ta, tb}));
    }
    const Tensor na = floats(F32, {5}, {k_nan, 1, k_nan, k_inf, -k_inf});
    const Tensor nb = floats(F32, {5}, {k_nan, k_nan, 1, k_inf, 0});
    c.push_back(mk(std::string(op) + " f32 NaN", op, {na, nb}));
  }
  c.push_back(mk("Equal bool", "Equal", {rand_int(BOOL, {3, 4}, seed++, 0, 1), rand_int(BOOL, {4}, seed++, 0, 1)}));
  c.push_back(mk("Less f32 empty", "Less", {rnd(F32, {0}, 1, -1, 1), rnd(F32, {1}, 2, -1, 1)}));
  for (const char* op : {"And", "Or", "Xor"}) {
    c.push_back(mk(std::string(op) + " bool [3,4],[4]", op,
                   {rand_int(BOOL, {3, 4}, seed++, 0, 1), rand_int(BOOL, {4}, seed++, 0, 1)}));
    c.push_back(mk(std::string(op) + " bool [1031]", op,
                   {rand_int(BOOL, {1031}, seed++, 0, 1), rand_int(BOOL, {1031}, seed++, 0, 1)}));
    c.push_back(mk(std::string(op) + " bool scalar", op,
                   {rand_int(BOOL, {}, seed++, 1, 1), rand_int(BOOL, {2, 3}, seed++, 0, 1)}));
  }
  c.push_back(mk("And opset6 axis=0", "And", {rand_int(BOOL, {2, 3}, seed++, 0, 1), rand_int(BOOL, {2}, seed++, 0, 1)},
                 0, {{"broadcast", a_int(1)}, {"axis", a_int(0)}}, 6));
  for (const char* op : {"BitwiseAnd", "BitwiseOr", "BitwiseXor"}) {
    size_t j = 0;
    for (DataType dt : k_ints) {
      const auto& [sa, sb] = k_shapes[(j++ + 1) % k_shapes.size()];
      c.push_back(mk(std::string(op) + " " + dn(dt) + " " + shape_str(sa) + "," + shape_str(sb), op,
                     {rnd(dt, sa, seed++, -100000, 100000), rnd(dt, sb, seed++, -100000, 100000)}));
    }
  }
  const Attrs left = {{"direction", a_str("LEFT")}}, right = {{"direction", a_str("RIGHT")}};
  c.push_back(
      mk("BitShift u8 left", "BitShift", {ints(U8, {5}, {1, 255, 16, 3, 7}), ints(U8, {5}, {1, 1, 4, 8, 0})}, 0, left));
  c.push_back(mk("BitShift u16 right", "BitShift", {ints(U16, {4}, {65535, 256, 1, 9}), ints(U16, {4}, {1, 8, 16, 17})},
                 0, right));
  c.push_back(mk("BitShift u32 left bcast", "BitShift",
                 {rnd(U32, {3, 4}, seed++, 0, 100000), ints(U32, {4}, {0, 5, 31, 32})}, 0, left));
  c.push_back(mk("BitShift u64 right", "BitShift",
                 {ints(U64, {4}, {-1, k_i64_max, 1024, 5}), ints(U64, {4}, {63, 64, 3, 100})}, 0, right));
  c.push_back(mk("BitShift u64 left scalar", "BitShift", {ints(U64, {3}, {1, 3, -1}), ints(U64, {}, {62})}, 0, left));
}

void variadic_cases(std::vector<OpCase>& c) {
  uint32_t seed = 500;
  auto r = [&](DataType dt, Shape s) { return rnd(dt, std::move(s), seed++, dt == U8 ? 0 : -100, 100); };
  for (const char* op : {"Sum", "Min", "Max", "Mean"}) {
    const std::string o = op;
    c.push_back(mk(o + " f32 one input", op, {r(F32, {3, 5})}, 1e-6));
    c.push_back(mk(o + " f32 two [3,1],[1,4]", op, {r(F32, {3, 1}), r(F32, {1, 4})}, 1e-6));
    c.push_back(mk(o + " f32 three [2,3,4],[4],[3,1]", op, {r(F32, {2, 3, 4}), r(F32, {4}), r(F32, {3, 1})}, 1e-6));
    c.push_back(mk(o + " f32 four [1031]", op, {r(F32, {1031}), r(F32, {1031}), r(F32, {}), r(F32, {1031})}, 1e-6));
    c.push_back(mk(o + " f16 four", op, {r(F16, {2, 3}), r(F16, {3}), r(F16, {2, 3}), r(F16, {1})}, 1e-3));
    c.push_back(mk(o + " bf16 three", op, {r(BF16, {5}), r(BF16, {5}), r(BF16, {5})}, 1e-3));
    c.push_back(mk(o + " f16 two", op, {r(F16, {4, 1}), r(F16, {3})}, 1e-3));
    c.push_back(mk(o + " f64 three", op, {r(F64, {2, 2}), r(F64, {2, 1}), r(F64, {2})}, 1e-9));
    c.push_back(mk(o + " f32 empty", op, {r(F32, {0, 3}), r(F32, {3})}, 1e-6));
    if (o == "Mean") continue;
    c.push_back(mk(o + " i32 three", op, {r(I32, {2, 3}), r(I32, {3}), r(I32, {2, 1})}));
    c.push_back(mk(o + " i64 two", op, {r(I64, {4}), r(I64, {4})}));
    c.push_back(mk(o + " u8 three", op,
                   {rnd(U8, {6}, seed++, 0, 255), rnd(U8, {6}, seed++, 0, 255), rnd(U8, {1}, seed++, 0, 255)}));
    c.push_back(mk(o + " i8 two", op, {rnd(I8, {5}, seed++, -128, 127), rnd(I8, {5}, seed++, -128, 127)}));
    c.push_back(mk(o + " u64 two", op, {r(U64, {3}), r(U64, {2, 1})}));
  }
  const Tensor n1 = floats(F32, {4}, {k_nan, 1, 2, -k_inf});
  const Tensor n2 = floats(F32, {4}, {3, k_nan, 0, 5});
  const Tensor n3 = floats(F32, {4}, {0, 0, k_nan, k_nan});
  for (const char* op : {"Max", "Min", "Sum", "Mean"}) {
    c.push_back(mk(std::string(op) + " f32 NaN three", op, {n1, n2, n3}, 1e-6));
    c.push_back(mk(std::string(op) + " f32 NaN two", op, {n1, n2}, 1e-6));
  }
  c.push_back(
      mk("Max f16 NaN", "Max", {floats(F16, {4}, {k_nan, 1, 2, -k_inf}), floats(F16, {4}, {3, k_nan, 0, 5})}, 1e-3));
  c.push_back(mk("Sum i32 wrap", "Sum",
                 {ints(I32, {2}, {k_i32_max, k_i32_min}), ints(I32, {2}, {1, -1}), ints(I32, {2}, {5, 5})}));

  // Where: broadcasting in every operand, flat, element sizes 1/2/4/8.
  c.push_back(
      mk("Where f32 [3,1],[1,4],[]", "Where", {rand_int(BOOL, {3, 1}, seed++, 0, 1), r(F32, {1, 4}), r(F32, {})}, 0));
  c.push_back(
      mk("Where f32 [1031] flat", "Where", {rand_int(BOOL, {1031}, seed++, 0, 1), r(F32, {1031}), r(F32, {1031})}, 0));
  c.push_back(
      mk("Where i64 [2,3,4]", "Where", {rand_int(BOOL, {3, 4}, seed++, 0, 1), r(I64, {2, 3, 4}), r(I64, {2, 1, 4})}));
  c.push_back(
      mk("Where bool", "Where",
         {rand_int(BOOL, {5}, seed++, 0, 1), rand_int(BOOL, {5}, seed++, 0, 1), rand_int(BOOL, {1}, seed++, 0, 1)}));
  c.push_back(mk("Where f16 scalar cond", "Where", {rand_int(BOOL, {}, seed++, 0, 1), r(F16, {2, 3}), r(F16, {3})}, 0));
  c.push_back(mk("Where i8 [4,1,6]", "Where", {rand_int(BOOL, {1, 5, 1}, seed++, 0, 1), r(I8, {4, 1, 6}), r(I8, {6})}));
  c.push_back(mk("Where f64", "Where", {rand_int(BOOL, {2, 2}, seed++, 0, 1), r(F64, {2, 2}), r(F64, {2, 2})}, 0));
  c.push_back(mk("Where bf16 u16", "Where", {rand_int(BOOL, {3}, seed++, 0, 1), r(BF16, {3}), r(BF16, {3})}, 0));
  c.push_back(mk("Where f32 empty", "Where", {rand_int(BOOL, {0}, seed++, 0, 1), r(F32, {0}), r(F32, {1})}, 0));
}

void cast_cases(std::vector<OpCase>& c) {
  const std::vector<double> fv = {-2.7, 2.7, k_nan, k_inf, -k_inf, 1e20, -1e20, -0.5, 300.7, -129.9, 65504, 1e19,
                                  0.0, -0.0, 1.0, 70000};
  const Shape fs = {16};
  auto to = [](DataType dt) { return Attrs{{"to", a_int(static_cast<int64_t>(dt))}}; };
  const std::vector<DataType> all = {F32, F16, BF16, F64, I8, I16, I32, I64, U8, U16, U32, U64, BOOL};
  // Floats to everything (truncation, NaN/out of range -> INT64_MIN wrapped, bool).
  for (DataType from : k_floats)
    for (DataType dst : all)
      c.push_back(mk("Cast " + dn(from) + "->" + dn(dst) + " specials", "Cast", {floats(from, fs, fv)},
                     tol_of(dst, false), to(dst)));
  // Integers and bool to everything (wrapping, rounding to float).
  const std::vector<int64_t> iv = {0, 1, -1, 127, -128, 255, 256, 65535, 70000, -70000, k_i32_max, k_i32_min,
                                   (int64_t{1} << 53) + 1, k_i64_max, k_i64_min, -(int64_t{1} << 62) + 1};
  for (DataType from : {I8, I16, I32, I64, U8, U16, U32, U64, BOOL})
    for (DataType dst : all)
      c.push_back(mk("Cast " + dn(from) + "->" + dn(dst), "Cast", {ints(from, fs, iv)}, tol_of(dst, false), to(dst)));
  c.push_back(mk("Cast f32->i64 [1031]", "Cast", {rnd(F32, {1031}, 600, -1e6, 1e6)}, 0, to(I64)));
  c.push_back(mk("Cast f32->f16 [2,3,5]", "Cast", {rnd(F32, {2, 3, 5}, 601, -100, 100)}, 1e-3, to(F16)));
  c.push_back(mk("Cast f32->f32 same", "Cast", {rnd(F32, {7}, 602, -1, 1)}, 0, to(F32)));
  c.push_back(mk("Cast empty", "Cast", {rnd(F32, {0, 4}, 603, -1, 1)}, 0, to(I32)));
  c.push_back(mk("Cast opset5 string to", "Cast", {rnd(F32, {5}, 604, -9, 9)}, 0, {{"to", a_str("INT32")}}, 5));
  c.push_back(mk("CastLike f32->i32", "CastLike", {floats(F32, fs, fv), ints(I32, {}, {0})}));
  c.push_back(mk("CastLike i64->f16", "CastLike", {ints(I64, fs, iv), floats(F16, {1}, {0})}, 1e-3));
  c.push_back(mk("CastLike bool->f32", "CastLike", {ints(BOOL, fs, iv), floats(F32, {2}, {0, 0})}));
  c.push_back(mk("CastLike same", "CastLike", {rnd(F64, {3}, 605, -1, 1), floats(F64, {}, {0})}, 1e-9));

  c.push_back(mk("Identity f32", "Identity", {rnd(F32, {1031}, 606, -1, 1)}, 0));
  c.push_back(mk("Identity i64", "Identity", {rnd(I64, {2, 3}, 607, -9, 9)}));
  c.push_back(mk("Identity bool", "Identity", {rand_int(BOOL, {3}, 608, 0, 1)}));
  c.push_back(mk("Identity f16 empty", "Identity", {rnd(F16, {0}, 609, -1, 1)}, 0));
  c.push_back(mk("Identity u8 scalar", "Identity", {ints(U8, {}, {200})}));

  const Tensor none;
  const Tensor x = rnd(F32, {3, 5}, 610, -1, 1);
  c.push_back(mk("Dropout f32", "Dropout", {x}, 0));
  c.push_back(mk("Dropout f32 mask", "Dropout", {x}, 0, {}, 21, 2));
  c.push_back(
      mk("Dropout ratio training=false", "Dropout", {x, floats(F32, {}, {0.3}), ints(BOOL, {}, {0})}, 0, {}, 21, 2));
  c.push_back(mk("Dropout training ratio=0", "Dropout", {x, floats(F32, {}, {0}), ints(BOOL, {}, {1})}, 0, {}, 21, 2));
  c.push_back(mk("Dropout f16 mask only training", "Dropout", {rnd(F16, {4}, 611, -1, 1), none, ints(BOOL, {}, {0})}, 0,
                 {}, 21, 2));
  c.push_back(mk("Dropout opset7 mask dtype", "Dropout", {x}, 0, {}, 7, 2));
  c.push_back(mk("Dropout opset7 f64 mask", "Dropout", {rnd(F64, {2, 2}, 612, -1, 1)}, 0, {}, 7, 2));
  c.push_back(mk("Dropout empty mask", "Dropout", {rnd(F32, {0, 2}, 613, -1, 1)}, 0, {}, 21, 2));
}

void quant_cases(std::vector<OpCase>& c) {
  // Halves round to even; saturation; NaN and Inf.
  const Tensor xq = floats(F32, {12}, {0.25, 0.75, 1.25, -0.25, -0.75, 1000, -1000, k_nan, k_inf, -k_inf, 3.3, -7.1});
  const Tensor s05 = floats(F32, {}, {0.5});
  c.push_back(mk("QuantizeLinear f32->u8 zp", "QuantizeLinear", {xq, s05, ints(U8, {}, {10})}));
  c.push_back(mk("QuantizeLinear f32->i8 zp", "QuantizeLinear", {xq, s05, ints(I8, {}, {-3})}));
  c.push_back(mk("QuantizeLinear f32 no zp", "QuantizeLinear", {xq, s05}));
  c.push_back(mk("QuantizeLinear f32 output_dtype i16", "QuantizeLinear", {xq, s05}, 0,
                 {{"output_dtype", a_int(static_cast<int64_t>(I16))}}));
  c.push_back(
      mk("QuantizeLinear f32->u16 zp", "QuantizeLinear", {xq, floats(F32, {1}, {0.01}), ints(U16, {1}, {300})}));
  c.push_back(mk("QuantizeLinear f32->i32", "QuantizeLinear", {xq, s05, ints(I32, {}, {-5})}));
  c.push_back(mk("QuantizeLinear opset10", "QuantizeLinear", {xq, s05, ints(U8, {}, {128})}, 0, {}, 10));
  c.push_back(mk("QuantizeLinear f32 [1031]", "QuantizeLinear",
                 {rnd(F32, {1031}, 700, -3, 3), floats(F32, {}, {0.02}), ints(I8, {}, {1})}));
  c.push_back(mk("QuantizeLinear per-axis", "QuantizeLinear",
                 {rnd(F32, {2, 3, 4}, 701, -3, 3), floats(F32, {3}, {0.01, 0.05, 0.1}), ints(I8, {3}, {0, -4, 7})}, 0,
                 {{"axis", a_int(1)}}));
  c.push_back(
      mk("QuantizeLinear per-axis -1", "QuantizeLinear",
         {rnd(F32, {2, 3, 4}, 702, -3, 3), floats(F32, {4}, {0.01, 0.05, 0.1, 0.2}), ints(U8, {4}, {0, 4, 128, 255})},
         0, {{"axis", a_int(-1)}}));
  c.push_back(mk("QuantizeLinear blocked", "QuantizeLinear",
                 {rnd(F32, {2, 6}, 703, -3, 3), rnd(F32, {2, 2}, 704, 0.01, 0.1), rnd(I8, {2, 2}, 705, -5, 5)}, 0,
                 {{"axis", a_int(1)}, {"block_size", a_int(4)}}));
  c.push_back(mk("QuantizeLinear blocked axis0", "QuantizeLinear",
                 {rnd(F32, {5, 3}, 706, -3, 3), rnd(F32, {3, 3}, 707, 0.01, 0.1)}, 0,
                 {{"axis", a_int(0)}, {"block_size", a_int(2)}}));
  c.push_back(mk("QuantizeLinear f16", "QuantizeLinear",
                 {rnd(F16, {3, 5}, 708, -3, 3), floats(F16, {}, {0.03}), ints(U8, {}, {128})}));
  c.push_back(mk("QuantizeLinear bf16", "QuantizeLinear",
                 {rnd(BF16, {7}, 709, -3, 3), floats(BF16, {}, {0.03}), ints(I8, {}, {0})}));
  c.push_back(mk("QuantizeLinear f64", "QuantizeLinear", {rnd(F64, {7}, 710, -3, 3), floats(F64, {}, {0.03})}));
  c.push_back(
      mk("QuantizeLinear i32 x", "QuantizeLinear", {ints(I32, {5}, {-300, -3, 0, 7, 1000}), floats(F32, {}, {2.5})}));
  c.push_back(mk("QuantizeLinear precision f64", "QuantizeLinear", {rnd(F32, {9}, 711, -3, 3), floats(F32, {}, {0.07})},
                 0, {{"precision", a_int(static_cast<int64_t>(F64))}}));
  c.push_back(mk("QuantizeLinear empty", "QuantizeLinear", {rnd(F32, {0, 3}, 712, -3, 3), s05, ints(U8, {}, {1})}));

  c.push_back(mk("DequantizeLinear u8 zp", "DequantizeLinear",
                 {rnd(U8, {1031}, 720, 0, 255), floats(F32, {}, {0.02}), ints(U8, {}, {128})}, 1e-6));
  c.push_back(mk("DequantizeLinear i8 no zp", "DequantizeLinear",
                 {rnd(I8, {3, 4}, 721, -128, 127), floats(F32, {1}, {0.1})}, 1e-6));
  c.push_back(mk("DequantizeLinear i8 per-axis", "DequantizeLinear",
                 {rnd(I8, {2, 3, 4}, 722, -128, 127), floats(F32, {3}, {0.01, 0.5, 2}), ints(I8, {3}, {0, -4, 7})},
                 1e-6, {{"axis", a_int(1)}}));
  c.push_back(mk("DequantizeLinear blocked", "DequantizeLinear",
                 {rnd(U8, {2, 6}, 723, 0, 255), rnd(F32, {2, 2}, 724, 0.01, 0.1), rnd(U8, {2, 2}, 725, 0, 255)}, 1e-6,
                 {{"axis", a_int(1)}, {"block_size", a_int(4)}}));
  c.push_back(mk("DequantizeLinear i32", "DequantizeLinear",
                 {ints(I32, {4}, {k_i32_min, -5, 0, k_i32_max}), floats(F32, {}, {0.5})}, 1e-6));
  c.push_back(mk("DequantizeLinear u16 zp", "DequantizeLinear",
                 {rnd(U16, {5}, 726, 0, 65535), floats(F32, {}, {0.001}), ints(U16, {}, {30000})}, 1e-6));
  c.push_back(mk("DequantizeLinear i16", "DequantizeLinear",
                 {rnd(I16, {5}, 727, -32768, 32767), floats(F32, {}, {0.001})}, 1e-6));
  c.push_back(mk("DequantizeLinear f16 scale", "DequantizeLinear",
                 {rnd(U8, {9}, 728, 0, 255), floats(F16, {}, {0.03}), ints(U8, {}, {100})}, 1e-3));
  c.push_back(mk("DequantizeLinear bf16 scale", "DequantizeLinear",
                 {rnd(I8, {9}, 729, -128, 127), floats(BF16, {}, {0.03})}, 1e-3));
  c.push_back(mk("DequantizeLinear f64 scale", "DequantizeLinear",
                 {rnd(I8, {9}, 730, -128, 127), floats(F64, {}, {0.03})}, 1e-9));
  c.push_back(mk("DequantizeLinear opset10", "DequantizeLinear", {rnd(U8, {4}, 731, 0, 255), floats(F32, {}, {0.03})},
                 1e-6, {}, 10));
  c.push_back(mk("DequantizeLinear output_dtype f64", "DequantizeLinear",
                 {rnd(U8, {4}, 732, 0, 255), floats(F32, {}, {0.03})}, 1e-9,
                 {{"output_dtype", a_int(static_cast<int64_t>(F64))}}));
  c.push_back(
      mk("DequantizeLinear empty", "DequantizeLinear", {rnd(U8, {0}, 733, 0, 255), floats(F32, {}, {0.03})}, 1e-6));
}

}  // namespace

std::vector<OpCase> elementwise_cases() {
  std::vector<OpCase> c;
  unary_cases(c);
  clip_cases(c);
  arith_cases(c);
  logic_cases(c);
  variadic_cases(c);
  cast_cases(c);
  quant_cases(c);
  return c;
}

}  // namespace kiln::test::ops
