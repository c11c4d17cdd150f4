// Consistency cases of the CUDA reduce family (see backend_ops.h): Reduce*,
// ArgMax/ArgMin, TopK and DynamicQuantizeLinear.
#include <cmath>
#include <limits>
#include <optional>

#include "backend_ops.h"
#include "core/dispatch.h"

namespace kiln::test::ops {

namespace {

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

std::string axes_str(const std::optional<std::vector<int64_t>>& axes) {
  if (!axes) return "none";
  std::string s = "[";
  for (size_t i = 0; i < axes->size(); ++i) s += (i ? "," : "") + std::to_string((*axes)[i]);
  return s + "]";
}

std::string dt_str(DataType dt) { return std::string(dtype_name(dt)); }

// A Reduce* case; axes go in as an input from ReduceSum-13 / other Reduce*-18,
// as the attribute before.
OpCase reduce_case(const std::string& op, Tensor x, std::optional<std::vector<int64_t>> axes, int keepdims,
                   int64_t opset = 18, const std::string& extra = "") {
  OpCase c;
  c.op = op;
  c.opset = opset;
  c.name = op + " " + dt_str(x.dtype()) + " " + shape_str(x.shape()) + " axes " + axes_str(axes) + " keepdims " +
           std::to_string(keepdims) + " opset " + std::to_string(opset) + extra;
  c.attrs["keepdims"] = a_int(keepdims);
  const bool as_input = opset >= (op == "ReduceSum" ? 13 : 18);
  c.inputs.push_back(std::move(x));
  if (axes) {
    if (as_input) c.inputs.push_back(i64({static_cast<int64_t>(axes->size())}, *axes));
    else c.attrs["axes"] = a_ints(*axes);
  }
  // One rounding to 16 bits apart: f16's ulp is within 1e-3 relative, bf16's is not.
  if (c.inputs[0].dtype() == DataType::Float16) c.tol = 1e-3;
  if (c.inputs[0].dtype() == DataType::BFloat16) c.tol = 1e-2;
  return c;
}

// Inputs each op is well defined on (LogSum needs positive sums, Prod values near 1).
Tensor input_for(const std::string& op, DataType dt, Shape shape, uint32_t seed) {
  if (op == "ReduceLogSum") return rand_float(dt, std::move(shape), seed, 0.1f, 2.f);
  if (op == "ReduceProd") return rand_float(dt, std::move(shape), seed, 0.6f, 1.4f);
  return rand_float(dt, std::move(shape), seed, -2.f, 2.f);
}

void add_reduce_cases(std::vector<OpCase>& c) {
  const char* ops[] = {"ReduceSum", "ReduceMean",      "ReduceMax",       "ReduceMin", "ReduceProd",
                       "ReduceL1",  "ReduceL2",        "ReduceLogSum",    "ReduceLogSumExp", "ReduceSumSquare"};
  uint32_t seed = 100;
  for (const char* op : ops) {
    const Shape s{2, 3, 4, 5};
    c.push_back(reduce_case(op, input_for(op, DataType::Float32, s, ++seed), std::vector<int64_t>{-1}, 1));
    c.push_back(reduce_case(op, input_for(op, DataType::Float32, s, ++seed), std::vector<int64_t>{1}, 0));
    c.push_back(reduce_case(op, input_for(op, DataType::Float32, s, ++seed), std::vector<int64_t>{0}, 1));
    c.push_back(reduce_case(op, input_for(op, DataType::Float32, s, ++seed), std::vector<int64_t>{0, 2}, 0));
    c.push_back(reduce_case(op, input_for(op, DataType::Float32, s, ++seed), std::nullopt, 1));
    c.push_back(reduce_case(op, input_for(op, DataType::Float32, {3, 1, 7}, ++seed), std::nullopt, 0));
    // Attribute axes at the older opset.
    c.push_back(reduce_case(op, input_for(op, DataType::Float32, s, ++seed), std::vector<int64_t>{2, -1}, 1, 11));
    // An empty reduction: the op's identity.
    c.push_back(reduce_case(op, Tensor::empty(DataType::Float32, {2, 0, 3}), std::vector<int64_t>{1}, 1));
    for (DataType dt : {DataType::Float16, DataType::BFloat16, DataType::Float64})
      c.push_back(reduce_case(op, input_for(op, dt, {3, 5, 33}, ++seed), std::vector<int64_t>{1}, 1));
  }
  // Geometry: strided axis sets, negative axes, rank 5, every launch shape.
  const Shape s5{2, 3, 4, 5, 6};
  c.push_back(reduce_case("ReduceSum", rand_f32(s5, 1), std::vector<int64_t>{1, 3}, 1));
  c.push_back(reduce_case("ReduceSum", rand_f32(s5, 2), std::vector<int64_t>{-2, -4}, 0));
  c.push_back(reduce_case("ReduceMax", rand_f32(s5, 3), std::vector<int64_t>{0, 2, 4}, 0));
  c.push_back(reduce_case("ReduceMean", rand_f32(s5, 4), std::vector<int64_t>{2, 3}, 1));
  c.push_back(reduce_case("ReduceSum", rand_f32({4096, 7}, 5), std::vector<int64_t>{-1}, 1));   // a thread per row
  c.push_back(reduce_case("ReduceMean", rand_f32({7, 4096}, 6), std::vector<int64_t>{0}, 0));   // column tiles
  c.push_back(reduce_case("ReduceMax", rand_f32({64, 300}, 7), std::vector<int64_t>{1}, 1));    // a warp per row
  c.push_back(reduce_case("ReduceMin", rand_f32({33, 3000}, 8), std::vector<int64_t>{1}, 0));   // a block per row
  c.push_back(reduce_case("ReduceSum", rand_f32({3, 40, 17}, 9), std::vector<int64_t>{1}, 1));  // strided rows
  // Long rows: split over blocks.
  for (auto [shape, axes] : {std::pair{Shape{100000}, std::vector<int64_t>{0}},
                             std::pair{Shape{3, 100000}, std::vector<int64_t>{-1}},
                             std::pair{Shape{100000, 3}, std::vector<int64_t>{0}},
                             std::pair{Shape{50, 200, 30}, std::vector<int64_t>{0, 1}}}) {
    c.push_back(reduce_case("ReduceSum", rand_f32(shape, 10), axes, 0));
    c.back().tol = 1e-4;
    c.push_back(reduce_case("ReduceMean", rand_f32(shape, 11), axes, 1));
    c.push_back(reduce_case("ReduceMax", rand_f32(shape, 12), axes, 1));
    c.push_back(reduce_case("ReduceLogSumExp", rand_f32(shape, 13), axes, 0));
    c.push_back(reduce_case("ReduceSumSquare", rand_f32(shape, 14), axes, 0));
  }
  // Axes input: none, empty (reduce all), empty with noop_with_empty_axes.
  c.push_back(reduce_case("ReduceSum", rand_f32({3, 4}, 15), std::vector<int64_t>{}, 1, 18, " empty axes input"));
  OpCase noop = reduce_case("ReduceSum", rand_f32({3, 4}, 16), std::nullopt, 1, 18, " noop");
  noop.attrs["noop_with_empty_axes"] = a_int(1);
  c.push_back(noop);
  OpCase noop2 = reduce_case("ReduceMax", rand_f32({3, 4}, 17), std::vector<int64_t>{}, 0, 18, " noop");
  noop2.attrs["noop_with_empty_axes"] = a_int(1);
  c.push_back(noop2);
  c.push_back(reduce_case("ReduceMean", rand_f32({}, 18), std::nullopt, 0, 18, " scalar"));
  c.push_back(reduce_case("ReduceSum", Tensor::empty(DataType::Float32, {0, 3}), std::vector<int64_t>{1}, 1));
  // Integer and bool inputs (ReduceMean of integers truncates, as the CPU).
  for (DataType dt : {DataType::Int32, DataType::Int64, DataType::Int8, DataType::UInt8, DataType::UInt32}) {
    const bool sign = dt != DataType::UInt8 && dt != DataType::UInt32;
    for (const char* op : {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceL1", "ReduceSumSquare"})
      c.push_back(reduce_case(op, rand_int(dt, {4, 6, 5}, 20, sign ? -9 : 0, 9), std::vector<int64_t>{1}, 0));
    c.push_back(reduce_case("ReduceProd", rand_int(dt, {4, 6, 3}, 21, sign ? -3 : 1, 3), std::vector<int64_t>{-1}, 1));
    c.push_back(reduce_case("ReduceL2", rand_int(dt, {4, 6, 3}, 22, sign ? -9 : 0, 9), std::vector<int64_t>{-1}, 1));
    c.push_back(reduce_case("ReduceLogSum", rand_int(dt, {4, 6, 3}, 23, 1, 9), std::vector<int64_t>{-1}, 1));
    c.push_back(reduce_case("ReduceLogSumExp", rand_int(dt, {4, 6, 3}, 24, 0, 5), std::vector<int64_t>{-1}, 1));
  }
  c.push_back(reduce_case("ReduceSum", rand_int(DataType::Int64, {70000}, 25, -1000, 1000), std::nullopt, 0));
  c.push_back(reduce_case("ReduceMax", rand_int(DataType::Bool, {5, 7}, 26, 0, 1), std::vector<int64_t>{1}, 1, 20));
  c.push_back(reduce_case("ReduceMin", rand_int(DataType::Bool, {5, 7}, 27, 0, 1), std::vector<int64_t>{0}, 0, 20));
  c.push_back(reduce_case("ReduceMax", Tensor::empty(DataType::Int32, {2, 0}), std::vector<int64_t>{1}, 0));
  // NaN propagates through ReduceMax/ReduceMin.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  c.push_back(reduce_case("ReduceMax", f32({2, 3}, {1, nan, 3, -1, -2, -3}), std::vector<int64_t>{1}, 0, 18, " nan"));
  c.push_back(reduce_case("ReduceMin", f32({2, 3}, {1, nan, 3, -1, -2, -3}), std::vector<int64_t>{1}, 0, 18, " nan"));
}

OpCase arg_case(const std::string& op, Tensor x, int64_t axis, int keepdims, int last, const std::string& extra = "") {
  OpCase c;
  c.op = op;
  c.opset = 13;
  c.name = op + " " + dt_str(x.dtype()) + " " + shape_str(x.shape()) + " axis " + std::to_string(axis) +
           " keepdims " + std::to_string(keepdims) + " last " + std::to_string(last) + extra;
  c.attrs["axis"] = a_int(axis);
  c.attrs["keepdims"] = a_int(keepdims);
  c.attrs["select_last_index"] = a_int(last);
  c.inputs.push_back(std::move(x));
  return c;
}

void add_arg_cases(std::vector<OpCase>& c) {
  for (const char* op : {"ArgMax", "ArgMin"}) {
    uint32_t seed = 200;
    for (int64_t axis : {0, 1, 2, -1})
      for (int keep : {0, 1}) c.push_back(arg_case(op, rand_f32({3, 4, 5}, ++seed), axis, keep, 0));
    // Ties: the first index, or the last with select_last_index.
    for (int last : {0, 1}) {
      c.push_back(arg_case(op, int_valued(DataType::Float32, {6, 40}, ++seed, 0, 3), 1, 1, last, " ties"));
      c.push_back(arg_case(op, int_valued(DataType::Float32, {40, 6}, ++seed, 0, 3), 0, 0, last, " ties"));
      c.push_back(arg_case(op, int_valued(DataType::Int32, {5, 3000}, ++seed, -5, 5), -1, 1, last, " ties"));
    }
    for (DataType dt : {DataType::Float16, DataType::BFloat16, DataType::Float64, DataType::Int64, DataType::UInt8,
                        DataType::Int8})
      c.push_back(arg_case(op, int_valued(dt, {4, 7, 9}, ++seed, 0, 100), 1, 1, 0));
    c.push_back(arg_case(op, rand_f32({2, 100000}, ++seed), 1, 0, 0));
    c.push_back(arg_case(op, rand_f32({100000, 2}, ++seed), 0, 1, 0));
    c.push_back(arg_case(op, rand_f32({1}, ++seed), 0, 0, 0));
    const float nan = std::numeric_limits<float>::quiet_NaN();
    c.push_back(arg_case(op, f32({2, 4}, {1, nan, 3, nan, 5, 2, 5, 0}), 1, 1, 1, " nan"));
  }
}

OpCase topk_case(Tensor x, int64_t k, int64_t axis, int largest, const std::string& extra = "", int64_t opset = 11) {
  OpCase c;
  c.op = "TopK";
  c.opset = opset;
  c.num_outputs = 2;
  c.name = "TopK " + dt_str(x.dtype()) + " " + shape_str(x.shape()) + " k " + std::to_string(k) + " axis " +
           std::to_string(axis) + " largest " + std::to_string(largest) + " opset " + std::to_string(opset) + extra;
  c.attrs["axis"] = a_int(axis);
  c.attrs["largest"] = a_int(largest);
  c.inputs.push_back(std::move(x));
  if (opset >= 10) c.inputs.push_back(i64({1}, {k}));
  else c.attrs["k"] = a_int(k);
  return c;
}

void add_topk_cases(std::vector<OpCase>& c) {
  uint32_t seed = 300;
  for (int largest : {1, 0}) {
    c.push_back(topk_case(rand_f32({3, 50}, ++seed), 5, -1, largest));
    c.push_back(topk_case(rand_f32({20, 3, 4}, ++seed), 7, 0, largest));  // strided rows
    c.push_back(topk_case(rand_f32({2, 33, 5}, ++seed), 33, 1, largest));  // k = n: a full sort
    c.push_back(topk_case(rand_f32({4, 1}, ++seed), 1, 1, largest));
    c.push_back(topk_case(rand_f32({500, 64}, ++seed), 10, 1, largest));  // many rows
    c.push_back(topk_case(rand_f32({2, 4096}, ++seed), 100, 1, largest));  // the largest shared-memory row
    // Rows past shared memory: the global bitonic network.
    c.push_back(topk_case(rand_f32({2, 10000}, ++seed), 100, 1, largest));
    c.push_back(topk_case(rand_f32({1, 100000}, ++seed), 7, -1, largest));
    c.push_back(topk_case(rand_f32({5000, 3}, ++seed), 5000, 0, largest));
    // Ties go to the lower index on both backends, so indices compare too.
    c.push_back(topk_case(int_valued(DataType::Int32, {4, 37}, ++seed, 0, 5), 10, 1, largest, " ties"));
    c.push_back(topk_case(int_valued(DataType::Float32, {3, 9000}, ++seed, -20, 20), 50, 1, largest, " ties"));
    for (DataType dt : {DataType::Float16, DataType::BFloat16, DataType::Float64, DataType::Int64, DataType::UInt8,
                        DataType::Int8, DataType::UInt64})
      c.push_back(topk_case(int_valued(dt, {3, 70}, ++seed, 0, 120), 9, -1, largest));
    const float nan = std::numeric_limits<float>::quiet_NaN();
    c.push_back(topk_case(f32({1, 8}, {1, nan, 3, -0.f, 0.f, nan, -5, 3}), 6, 1, largest, " nan"));
  }
  c.push_back(topk_case(rand_f32({3, 6}, ++seed), 0, 1, 1, " empty"));
  c.push_back(topk_case(rand_f32({3, 16}, ++seed), 4, 1, 1, "", 9));  // k as an attribute
  // TopK with ties as the brief words it: values only.
  OpCase v = topk_case(int_valued(DataType::Float32, {8, 200}, ++seed, 0, 9), 20, 1, 1, " ties values");
  v.compare = {0};
  c.push_back(v);
}

void add_quant_cases(std::vector<OpCase>& c) {
  auto dql = [](Tensor x, const std::string& extra) {
    OpCase q;
    q.op = "DynamicQuantizeLinear";
    q.opset = 11;
    q.num_outputs = 3;
    q.name = "DynamicQuantizeLinear " + shape_str(x.shape()) + extra;
    q.inputs.push_back(std::move(x));
    return q;
  };
  c.push_back(dql(rand_f32({3, 1000}, 400, -2.f, 3.f), ""));
  c.push_back(dql(rand_f32({10}, 401, 0.5f, 3.f), " positive"));
  c.push_back(dql(rand_f32({7, 9}, 402, -4.f, -1.f), " negative"));
  c.push_back(dql(rand_f32({200000}, 403, -1.f, 1.f), " long"));
  c.push_back(dql(f32({4}, {0, 0, 0, 0}), " zeros"));
  c.push_back(dql(Tensor::empty(DataType::Float32, {0, 3}), " empty"));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  c.push_back(dql(f32({5}, {1, nan, -2, 0.5f, 3}), " nan"));
}

void add_cumsum_cases(std::vector<OpCase>& c) {
  auto cs = [](Tensor x, int64_t axis, int exclusive, int reverse, const std::string& extra = "") {
    OpCase k;
    k.op = "CumSum";
    k.opset = 14;
    k.name = "CumSum " + dt_str(x.dtype()) + " " + shape_str(x.shape()) + " axis " + std::to_string(axis) +
             " exclusive " + std::to_string(exclusive) + " reverse " + std::to_string(reverse) + extra;
    k.attrs["exclusive"] = a_int(exclusive);
    k.attrs["reverse"] = a_int(reverse);
    if (x.dtype() == DataType::Float16) k.tol = 1e-3;
    if (x.dtype() == DataType::BFloat16) k.tol = 1e-2;
    k.inputs.push_back(std::move(x));
    k.inputs.push_back(i64({}, {axis}));
    return k;
  };
  uint32_t seed = 450;
  for (int exclusive : {0, 1})
    for (int reverse : {0, 1}) {
      c.push_back(cs(rand_f32({3, 4, 5}, ++seed), 1, exclusive, reverse));
      c.push_back(cs(rand_f32({3, 4, 5}, ++seed), -1, exclusive, reverse));
      c.push_back(cs(rand_f32({3, 4, 5}, ++seed), 0, exclusive, reverse));
      c.push_back(cs(rand_int(DataType::Int32, {4, 3000}, ++seed, -50, 50), 1, exclusive, reverse));  // block scan
      c.push_back(cs(rand_int(DataType::Int8, {2, 700, 3}, ++seed, -50, 50), 1, exclusive, reverse));  // wraps
      c.push_back(cs(rand_f32({5, 1000}, ++seed, 0.f, 1.f), 1, exclusive, reverse));
      // Long rows: the CPU sums in float one by one, so only close.
      OpCase l = cs(rand_f32({2, 100000}, ++seed, 0.f, 1.f), 1, exclusive, reverse);
      l.tol = 2e-4;
      c.push_back(l);
    }
  for (DataType dt : {DataType::Float16, DataType::BFloat16, DataType::Float64, DataType::Int64, DataType::UInt8})
    c.push_back(cs(int_valued(dt, {3, 40}, ++seed, 0, 3), -1, 0, 0));
  c.push_back(cs(rand_f32({2000, 5}, ++seed), 0, 0, 1, " many rows"));
  OpCase i32axis = cs(rand_f32({3, 4}, ++seed), 1, 0, 0, " int32 axis");
  i32axis.inputs[1] = i32({}, {1});
  c.push_back(i32axis);
  c.push_back(cs(Tensor::empty(DataType::Float32, {0, 4}), 1, 0, 0));
}

}  // namespace

std::vector<OpCase> reduce_cases() {
  std::vector<OpCase> c;
  add_reduce_cases(c);
  add_arg_cases(c);
  add_topk_cases(c);
  add_quant_cases(c);
  add_cumsum_cases(c);
  return c;
}

}  // namespace kiln::test::ops
