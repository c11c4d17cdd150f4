// Consistency cases of the CUDA nn norm/softmax/pool kernels (see
// backend_ops.h): Softmax, LogSoftmax, Hardmax, the normalizations and the
// pools. all_cases() takes them through nn_norm_cases().
#include <optional>
#include <string>

#include "backend_ops.h"
#include "core/dispatch.h"

namespace kiln::test::ops {

std::vector<OpCase> nn_norm_cases();

namespace {

std::string dt_str(DataType dt) { return std::string(dtype_name(dt)); }

// 16-bit floats: one output rounding apart (bf16's ulp exceeds 1e-3).
double tol_for(DataType dt) {
  if (dt == DataType::Float16) return 1e-3;
  if (dt == DataType::BFloat16) return 1e-2;
  return 1e-5;
}

// Integer values in [lo, hi] held in dtype `dt` (ties on purpose).
Tensor int_valued(DataType dt, Shape shape, uint32_t seed, int64_t lo, int64_t hi) {
  const Tensor r = rand_int(DataType::Int64, shape, seed, lo, hi);
  Tensor t = Tensor::empty(dt, std::move(shape));
  dispatch_numeric(dt, "int_valued", [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<T>()[i] = T(static_cast<float>(r.data<int64_t>()[i]));
  });
  return t;
}

OpCase make(const std::string& op, const std::string& name, std::vector<Tensor> inputs, int64_t opset) {
  OpCase c;
  c.op = op;
  c.opset = opset;
  c.name = op + " " + name + " opset " + std::to_string(opset);
  c.tol = tol_for(inputs.empty() ? DataType::Float32 : inputs[0].dtype());
  c.inputs = std::move(inputs);
  return c;
}

void add_softmax_cases(std::vector<OpCase>& c) {
  uint32_t seed = 500;
  for (const char* op : {"Softmax", "LogSoftmax", "Hardmax"}) {
    auto sm = [&](Tensor x, int64_t opset, std::optional<int64_t> axis, const std::string& extra = "") {
      const std::string name = dt_str(x.dtype()) + " " + shape_str(x.shape()) + " axis " +
                               (axis ? std::to_string(*axis) : std::string("default")) + extra;
      OpCase k = make(op, name, {std::move(x)}, opset);
      if (axis) k.attrs["axis"] = a_int(*axis);
      return k;
    };
    for (int64_t axis : {-1, 0, 1, 2}) c.push_back(sm(rand_f32({2, 3, 4}, ++seed, -3.f, 3.f), 13, axis));
    c.push_back(sm(rand_f32({2, 3, 4}, ++seed, -3.f, 3.f), 13, std::nullopt));
    // Before opset 13: coerced to 2-D at axis (default 1).
    for (int64_t axis : {0, 1, 2, -1}) c.push_back(sm(rand_f32({2, 3, 4}, ++seed, -3.f, 3.f), 11, axis));
    c.push_back(sm(rand_f32({2, 3, 4}, ++seed, -3.f, 3.f), 11, std::nullopt));
    c.push_back(sm(rand_f32({5000, 10}, ++seed, -3.f, 3.f), 13, -1));  // many short rows
    c.push_back(sm(rand_f32({8, 700}, ++seed, -3.f, 3.f), 13, -1));    // a warp per row
    c.push_back(sm(rand_f32({2, 100000}, ++seed, -3.f, 3.f), 13, -1));  // long rows
    c.push_back(sm(rand_f32({3, 3000, 5}, ++seed, -3.f, 3.f), 13, 1));  // long strided rows
    c.push_back(sm(rand_f32({2, 1, 3, 2, 2}, ++seed, -3.f, 3.f), 13, 2));
    c.push_back(sm(Tensor::empty(DataType::Float32, {0, 4}), 13, -1));
    for (DataType dt : {DataType::Float16, DataType::BFloat16, DataType::Float64})
      c.push_back(sm(rand_float(dt, {4, 33}, ++seed, -3.f, 3.f), 13, -1));
    // Rows held in registers (warp rows up to 256, block rows up to 8192):
    // attention scores of a ViT, both limits and one past the last.
    c.push_back(sm(rand_float(DataType::Float16, {2, 12, 197, 197}, ++seed, -8.f, 8.f), 13, -1));
    c.push_back(sm(rand_f32({7, 256}, ++seed, -3.f, 3.f), 13, -1));
    c.push_back(sm(rand_f32({7, 257}, ++seed, -3.f, 3.f), 13, -1));
    c.push_back(sm(rand_f32({3, 8192}, ++seed, -3.f, 3.f), 13, -1));
    c.push_back(sm(rand_f32({3, 8193}, ++seed, -3.f, 3.f), 13, -1));
    c.push_back(sm(rand_float(DataType::Float64, {9, 1000}, ++seed, -3.f, 3.f), 13, -1));
  }
  // Hardmax ties: the first maximum.
  OpCase h = make("Hardmax", "float32 ties", {int_valued(DataType::Float32, {30, 12}, 590, 0, 3)}, 13);
  c.push_back(h);
  OpCase h2 = make("Hardmax", "float32 ties axis 0", {int_valued(DataType::Float32, {12, 30}, 591, 0, 3)}, 13);
  h2.attrs["axis"] = a_int(0);
  c.push_back(h2);
}

// ---- normalizations ----
void add_norm_cases(std::vector<OpCase>& c) {
  uint32_t seed = 600;
  auto bn = [&](DataType dt, DataType pdt, Shape s, const std::string& extra = "") {
    const int64_t ch = s[1];
    OpCase k = make("BatchNormalization", dt_str(dt) + " params " + dt_str(pdt) + " " + shape_str(s) + extra,
                    {rand_float(dt, s, ++seed), rand_float(pdt, {ch}, ++seed, 0.5f, 1.5f), rand_float(pdt, {ch}, ++seed),
                     rand_float(pdt, {ch}, ++seed, -0.5f, 0.5f), rand_float(pdt, {ch}, ++seed, 0.5f, 1.5f)},
                    15);
    k.attrs["epsilon"] = a_float(1e-3f);
    return k;
  };
  c.push_back(bn(DataType::Float32, DataType::Float32, {2, 3, 4, 5}));
  c.push_back(bn(DataType::Float32, DataType::Float32, {7, 3}));
  c.push_back(bn(DataType::Float32, DataType::Float32, {1, 2, 3, 4, 5}));
  c.push_back(bn(DataType::Float16, DataType::Float16, {2, 4, 6, 6}));
  c.push_back(bn(DataType::Float16, DataType::Float32, {2, 4, 6, 6}));
  c.push_back(bn(DataType::BFloat16, DataType::BFloat16, {2, 4, 6}));
  c.push_back(bn(DataType::Float64, DataType::Float64, {2, 4, 6}));

  auto inorm = [&](DataType dt, Shape s) {
    const int64_t ch = s[1];
    return make("InstanceNormalization", dt_str(dt) + " " + shape_str(s),
                {rand_float(dt, s, ++seed), rand_float(dt, {ch}, ++seed, 0.5f, 1.5f), rand_float(dt, {ch}, ++seed)}, 6);
  };
  for (const Shape& s : {Shape{2, 3, 5, 7}, Shape{2, 4, 10}, Shape{1, 2, 3, 4, 5}, Shape{1, 2, 300, 300},
                         Shape{64, 8, 3}})
    c.push_back(inorm(DataType::Float32, s));
  c.push_back(inorm(DataType::Float16, {2, 3, 8, 8}));
  c.push_back(inorm(DataType::Float64, {2, 3, 40}));

  auto gnorm = [&](DataType dt, Shape s, int64_t groups, int64_t opset) {
    const int64_t n = opset < 21 ? groups : s[1];
    OpCase k = make("GroupNormalization", dt_str(dt) + " " + shape_str(s) + " groups " + std::to_string(groups),
                    {rand_float(dt, s, ++seed), rand_float(dt, {n}, ++seed, 0.5f, 1.5f), rand_float(dt, {n}, ++seed)},
                    opset);
    k.attrs["num_groups"] = a_int(groups);
    return k;
  };
  for (int64_t opset : {18, 21}) {
    c.push_back(gnorm(DataType::Float32, {2, 6, 4, 4}, 3, opset));
    c.push_back(gnorm(DataType::Float32, {2, 6, 4, 4}, 1, opset));
    c.push_back(gnorm(DataType::Float32, {2, 6, 4, 4}, 6, opset));
    c.push_back(gnorm(DataType::Float32, {2, 4, 16}, 2, opset));
    c.push_back(gnorm(DataType::Float32, {1, 4, 3, 4, 5}, 2, opset));
    c.push_back(gnorm(DataType::Float32, {1, 32, 64, 64}, 8, opset));
    c.push_back(gnorm(DataType::Float16, {2, 8, 5, 5}, 4, opset));
  }
  OpCase gs = gnorm(DataType::Float32, {2, 6, 9}, 3, 21);
  gs.name += " stash_type 1";
  gs.attrs["stash_type"] = a_int(1);
  c.push_back(gs);

  // LayerNormalization (opset 17), RMSNormalization (opset 23).
  auto ln = [&](const char* op, DataType dt, Shape s, int64_t axis, Shape scale, bool bias, int outputs = 1) {
    std::vector<Tensor> in{rand_float(dt, s, ++seed, -2.f, 2.f), rand_float(dt, scale, ++seed, 0.5f, 1.5f)};
    if (bias) in.push_back(rand_float(dt, scale, ++seed));
    const bool rms = std::string(op) == "RMSNormalization";
    OpCase k = make(op, dt_str(dt) + " " + shape_str(s) + " axis " + std::to_string(axis) + " scale " +
                            shape_str(scale) + (bias ? " bias" : "") + " outputs " + std::to_string(outputs),
                    std::move(in), rms ? 23 : 17);
    k.attrs["axis"] = a_int(axis);
    k.num_outputs = outputs;
    return k;
  };
  for (const char* op : {"LayerNormalization", "RMSNormalization"}) {
    const bool rms = std::string(op) == "RMSNormalization";
    c.push_back(ln(op, DataType::Float32, {2, 3, 8}, -1, {8}, !rms));
    c.push_back(ln(op, DataType::Float32, {2, 3, 8}, 1, {3, 8}, !rms));
    c.push_back(ln(op, DataType::Float32, {2, 3, 8}, 1, {8}, false));  // scale broadcast over the tail
    c.push_back(ln(op, DataType::Float32, {2, 3, 8}, 0, {1, 8}, false));
    c.push_back(ln(op, DataType::Float32, {4096, 16}, -1, {16}, !rms));
    c.push_back(ln(op, DataType::Float32, {2, 50000}, -1, {50000}, !rms));
    c.push_back(ln(op, DataType::Float32, {2, 3, 4, 5, 6}, 2, {4, 5, 6}, !rms));
    c.push_back(ln(op, DataType::Float16, {4, 7, 96}, -1, {96}, !rms));
    c.push_back(ln(op, DataType::BFloat16, {4, 96}, -1, {96}, false));
    c.push_back(ln(op, DataType::Float64, {4, 96}, -1, {96}, !rms));
    // Rows the register path holds: a ViT block's, its limit, one past it.
    c.push_back(ln(op, DataType::Float16, {2, 197, 768}, -1, {768}, !rms));
    c.push_back(ln(op, DataType::Float32, {5, 768}, -1, {768}, !rms));
    c.push_back(ln(op, DataType::Float32, {3, 8192}, -1, {8192}, !rms));
    c.push_back(ln(op, DataType::Float32, {3, 8193}, -1, {8193}, !rms));
    c.push_back(ln(op, DataType::Float32, {3, 1}, -1, {1}, !rms));
  }
  c.push_back(ln("LayerNormalization", DataType::Float32, {2, 3, 8}, -1, {8}, true, 3));
  c.push_back(ln("LayerNormalization", DataType::Float32, {3, 4, 5}, 1, {4, 5}, false, 3));
  c.push_back(ln("LayerNormalization", DataType::Float16, {3, 40}, -1, {40}, true, 3));
  OpCase st = ln("LayerNormalization", DataType::Float32, {3, 40}, -1, {40}, true, 3);
  st.name += " stash float16";
  st.attrs["stash_type"] = a_int(static_cast<int64_t>(DataType::Float16));
  st.tol = 1e-3;
  c.push_back(st);

  // com.kiln SkipLayerNormalization (passes/fuse_skip_layer_norm.cpp): with
  // and without the Sum output and bias; rows held in registers and longer.
  auto skip = [&](DataType dt, Shape s, Shape scale, bool bias, int outputs) {
    std::vector<Tensor> in{rand_float(dt, s, ++seed, -2.f, 2.f), rand_float(dt, s, ++seed, -2.f, 2.f),
                           rand_float(dt, scale, ++seed, 0.5f, 1.5f)};
    if (bias) in.push_back(rand_float(dt, scale, ++seed));
    OpCase k = make("SkipLayerNormalization",
                    dt_str(dt) + " " + shape_str(s) + " scale " + shape_str(scale) + (bias ? " bias" : "") +
                        " outputs " + std::to_string(outputs),
                    std::move(in), 17);
    k.domain = "com.kiln";
    k.num_outputs = outputs;
    return k;
  };
  c.push_back(skip(DataType::Float32, {2, 5, 16}, {16}, true, 2));
  c.push_back(skip(DataType::Float32, {2, 5, 16}, {16}, false, 1));
  c.push_back(skip(DataType::Float16, {2, 197, 768}, {768}, true, 2));
  c.push_back(skip(DataType::BFloat16, {3, 96}, {96}, true, 1));
  c.push_back(skip(DataType::Float32, {2, 9000}, {9000}, true, 2));  // past the register limit
  {
    OpCase k = skip(DataType::Float32, {2, 3, 8}, {3, 8}, true, 2);
    k.attrs["axis"] = a_int(1);
    k.attrs["epsilon"] = a_float(1e-3f);
    k.name += " axis 1";
    c.push_back(k);
  }

  // LpNormalization: p 1/2, any axis; a zero vector stays zero.
  for (int64_t p : {1, 2})
    for (int64_t axis : {-1, 0, 1}) {
      OpCase k = make("LpNormalization", "float32 [3,4,5] p " + std::to_string(p) + " axis " + std::to_string(axis),
                      {rand_f32({3, 4, 5}, ++seed)}, 13);
      k.attrs["p"] = a_int(p);
      k.attrs["axis"] = a_int(axis);
      c.push_back(k);
    }
  OpCase lz = make("LpNormalization", "float32 zero row", {f32({2, 3}, {0, 0, 0, 1, -2, 2})}, 13);
  c.push_back(lz);
  OpCase lh = make("LpNormalization", "float16 [6,300]", {rand_float(DataType::Float16, {6, 300}, ++seed)}, 13);
  c.push_back(lh);

  // MeanVarianceNormalization over its default and other axes.
  auto mvn = [&](DataType dt, Shape s, std::optional<std::vector<int64_t>> axes) {
    std::string a = "default";
    if (axes) {
      a = "[";
      for (size_t i = 0; i < axes->size(); ++i) a += (i ? "," : "") + std::to_string((*axes)[i]);
      a += "]";
    }
    OpCase k = make("MeanVarianceNormalization", dt_str(dt) + " " + shape_str(s) + " axes " + a,
                    {rand_float(dt, s, ++seed, -2.f, 3.f)}, 13);
    if (axes) k.attrs["axes"] = a_ints(*axes);
    return k;
  };
  c.push_back(mvn(DataType::Float32, {2, 3, 4, 5}, std::nullopt));
  c.push_back(mvn(DataType::Float32, {2, 3, 4, 5}, std::vector<int64_t>{2, 3}));
  c.push_back(mvn(DataType::Float32, {2, 3, 4, 5}, std::vector<int64_t>{1}));
  c.push_back(mvn(DataType::Float32, {2, 3, 4, 5}, std::vector<int64_t>{-1, 0}));
  c.push_back(mvn(DataType::Float32, {4, 3, 200, 200}, std::nullopt));
  c.push_back(mvn(DataType::Float16, {2, 3, 6, 7}, std::nullopt));

  // LRN across channels.
  for (int64_t size : {1, 3, 4, 7}) {
    OpCase k = make("LRN", "float32 [2,5,4,4] size " + std::to_string(size), {rand_f32({2, 5, 4, 4}, ++seed)}, 13);
    k.attrs["size"] = a_int(size);
    k.attrs["alpha"] = a_float(0.01f);
    k.attrs["beta"] = a_float(0.6f);
    k.attrs["bias"] = a_float(1.5f);
    c.push_back(k);
  }
  OpCase l3 = make("LRN", "float16 [2,6,9]", {rand_float(DataType::Float16, {2, 6, 9}, ++seed)}, 13);
  l3.attrs["size"] = a_int(3);
  c.push_back(l3);
}

// ---- pools ----
struct PoolSpec {
  std::vector<int64_t> kernel, strides, pads, dilations;
  std::string auto_pad;
  int ceil_mode = 0;
};

std::string ints_str(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

OpCase pool_case(const std::string& op, Tensor x, const PoolSpec& p, const std::string& extra = "") {
  std::string name = dt_str(x.dtype()) + " " + shape_str(x.shape()) + " k " + ints_str(p.kernel);
  OpCase c;
  c.attrs["kernel_shape"] = a_ints(p.kernel);
  if (!p.strides.empty()) { c.attrs["strides"] = a_ints(p.strides); name += " s " + ints_str(p.strides); }
  if (!p.pads.empty()) { c.attrs["pads"] = a_ints(p.pads); name += " p " + ints_str(p.pads); }
  if (!p.dilations.empty()) { c.attrs["dilations"] = a_ints(p.dilations); name += " d " + ints_str(p.dilations); }
  if (!p.auto_pad.empty()) { c.attrs["auto_pad"] = a_str(p.auto_pad); name += " " + p.auto_pad; }
  if (p.ceil_mode) { c.attrs["ceil_mode"] = a_int(1); name += " ceil"; }
  const OpCase base = make(op, name + extra, {std::move(x)}, 19);
  c.op = base.op;
  c.name = base.name;
  c.opset = base.opset;
  c.tol = base.tol;
  c.inputs = base.inputs;
  return c;
}

void add_pool_cases(std::vector<OpCase>& c) {
  uint32_t seed = 700;
  const std::vector<PoolSpec> specs = {
      {{3, 3}, {2, 2}, {1, 1, 1, 1}, {}, "", 0},
      {{2, 2}, {}, {}, {2, 2}, "", 0},
      {{3, 3}, {2, 2}, {}, {}, "", 1},
      {{3, 3}, {2, 2}, {0, 1, 1, 0}, {}, "", 1},
      {{3, 2}, {2, 2}, {}, {}, "SAME_UPPER", 0},
      {{3, 2}, {2, 2}, {}, {}, "SAME_LOWER", 0},
      {{2, 3}, {1, 2}, {}, {2, 1}, "VALID", 0},
      {{4, 4}, {3, 3}, {2, 2, 2, 2}, {}, "", 1},
  };
  for (const PoolSpec& p : specs) {
    c.push_back(pool_case("MaxPool", rand_f32({2, 3, 7, 8}, ++seed), p));
    for (int cip : {0, 1}) {
      OpCase a = pool_case("AveragePool", rand_f32({2, 3, 7, 8}, ++seed), p, " cip " + std::to_string(cip));
      a.attrs["count_include_pad"] = a_int(cip);
      c.push_back(a);
    }
  }
  // 1-D and 3-D windows.
  const PoolSpec p1{{4}, {3}, {1, 2}, {}, "", 0}, p3{{2, 3, 2}, {2, 1, 2}, {0, 1, 1, 0, 1, 0}, {}, "", 0};
  for (const char* op : {"MaxPool", "AveragePool"}) {
    c.push_back(pool_case(op, rand_f32({2, 3, 20}, ++seed), p1));
    c.push_back(pool_case(op, rand_f32({1, 2, 5, 6, 7}, ++seed), p3));
    c.push_back(pool_case(op, rand_f32({1, 2, 5, 6, 7}, ++seed), {{3, 3, 3}, {2, 2, 2}, {}, {}, "SAME_UPPER", 0}));
    // Windows wholly inside the padding read nothing.
    c.push_back(pool_case(op, rand_f32({1, 2, 3}, ++seed), {{2}, {1}, {2, 2}, {}, "", 0}));
    c.push_back(pool_case(op, rand_float(DataType::Float16, {2, 3, 9, 9}, ++seed), specs[0]));
    c.push_back(pool_case(op, rand_float(DataType::Float64, {2, 3, 9, 9}, ++seed), specs[2]));
    c.push_back(pool_case(op, rand_f32({8, 16, 56, 56}, ++seed), {{3, 3}, {2, 2}, {1, 1, 1, 1}, {}, "", 0}));
  }
  OpCase cip3 = pool_case("AveragePool", rand_f32({1, 2, 5, 6, 7}, ++seed), p3, " cip 1");
  cip3.attrs["count_include_pad"] = a_int(1);
  c.push_back(cip3);
  c.push_back(pool_case("MaxPool", rand_float(DataType::BFloat16, {2, 3, 9, 9}, ++seed), specs[0]));
  c.push_back(pool_case("MaxPool", rand_int(DataType::Int8, {2, 3, 9, 9}, ++seed, -128, 127), specs[0]));
  c.push_back(pool_case("MaxPool", rand_int(DataType::UInt8, {2, 3, 9, 9}, ++seed, 0, 255), specs[5]));
  // The Indices output, row- and column-major, with ties (the first maximum).
  for (int order : {0, 1}) {
    for (const PoolSpec& p : {specs[0], specs[3], specs[5], p1, p3}) {
      const size_t nd = p.kernel.size();
      Shape s = nd == 1 ? Shape{2, 3, 20} : nd == 2 ? Shape{2, 3, 7, 8} : Shape{1, 2, 5, 6, 7};
      OpCase m = pool_case("MaxPool", int_valued(DataType::Float32, s, ++seed, 0, 6), p,
                           " indices order " + std::to_string(order));
      m.num_outputs = 2;
      m.attrs["storage_order"] = a_int(order);
      c.push_back(m);
    }
  }
  // Global pools.
  for (const char* op : {"GlobalAveragePool", "GlobalMaxPool"}) {
    for (const Shape& s : {Shape{2, 3, 5, 7}, Shape{2, 4, 10}, Shape{1, 2, 3, 4, 5}, Shape{1, 3, 300, 300},
                           Shape{64, 256, 7, 7}, Shape{3, 5}})
      c.push_back(make(op, "float32 " + shape_str(s), {rand_f32(s, ++seed)}, 13));
    for (DataType dt : {DataType::Float16, DataType::BFloat16, DataType::Float64})
      c.push_back(make(op, dt_str(dt) + " [2,3,6,6]", {rand_float(dt, {2, 3, 6, 6}, ++seed)}, 13));
  }
}

}  // namespace

std::vector<OpCase> nn_norm_cases() {
  std::vector<OpCase> c;
  add_softmax_cases(c);
  add_norm_cases(c);
  add_pool_cases(c);
  return c;
}

}  // namespace kiln::test::ops
