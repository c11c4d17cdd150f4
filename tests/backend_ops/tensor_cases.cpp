// Consistency cases of the CUDA tensor family (see backend_ops.h): data
// movement, indexing and shape ops. Pure movement compares exactly (tol 0).
#include <cstdint>
#include <limits>

#include "backend_ops.h"
#include "core/dispatch.h"
#include "core/half.h"

namespace kiln::test::ops {

namespace {

using Attrs = std::map<std::string, ir::Attribute>;
constexpr DataType F32 = DataType::Float32, F16 = DataType::Float16, BF16 = DataType::BFloat16,
                   F64 = DataType::Float64, I64 = DataType::Int64, I32 = DataType::Int32, I8 = DataType::Int8,
                   U8 = DataType::UInt8, BOOL = DataType::Bool;

// A tensor of dtype dt holding v (converted as static_cast does).
Tensor vals(DataType dt, Shape shape, const std::vector<double>& v) {
  Tensor t = Tensor::empty(dt, std::move(shape));
  dispatch_all(dt, "vals", [&](auto tag) {
    using T = decltype(tag);
    for (size_t i = 0; i < v.size() && static_cast<int64_t>(i) < t.numel(); ++i) {
      if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) t.data<T>()[i] = T(static_cast<float>(v[i]));
      else t.data<T>()[i] = static_cast<T>(v[i]);
    }
  });
  return t;
}

// Random integers in [lo, hi] stored as dtype dt (floats too: exact sums, zeros for NonZero).
Tensor ints_as(DataType dt, Shape shape, uint32_t seed, int64_t lo, int64_t hi) {
  const Tensor r = rand_int(I64, shape, seed, lo, hi);
  std::vector<double> v(static_cast<size_t>(r.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(r.data<int64_t>()[i]);
  return vals(dt, std::move(shape), v);
}

// Random data of any dtype.
Tensor any(DataType dt, Shape shape, uint32_t seed) {
  if (dtype_is_float(dt)) return rand_float(dt, std::move(shape), seed, -4.f, 4.f);
  if (dt == BOOL) return rand_int(dt, std::move(shape), seed, 0, 1);
  return rand_int(dt, std::move(shape), seed, dt == U8 ? 0 : -100, 100);
}

std::string dn(DataType dt) { return std::string(dtype_name(dt)); }

ir::Attribute a_tensor(Tensor t) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::Tensor;
  a.t = std::move(t);
  return a;
}

struct Cases {
  std::vector<OpCase> v;
  void add(std::string name, std::string op, std::vector<Tensor> in, Attrs attrs = {}, int64_t opset = 21,
           int outs = 1, double tol = 0) {
    OpCase c;
    c.name = op + " " + name;
    c.op = std::move(op);
    c.inputs = std::move(in);
    c.attrs = std::move(attrs);
    c.num_outputs = outs;
    c.opset = opset;
    c.tol = tol;
    v.push_back(std::move(c));
  }
};

void reshape_cases(Cases& c) {
  for (DataType dt : {F32, F16, I64, BOOL, U8}) {
    c.add(dn(dt) + " [2,3,4]->[4,-1]", "Reshape", {any(dt, {2, 3, 4}, 1), i64({2}, {4, -1})});
    c.add(dn(dt) + " [2,3,4] axis -1", "Flatten", {any(dt, {2, 3, 4}, 2)}, {{"axis", a_int(-1)}});
  }
  c.add("[2,3,4]->[0,-1]", "Reshape", {rand_f32({2, 3, 4}, 3), i64({2}, {0, -1})});
  c.add("empty [0,4]->[-1,2]", "Reshape", {rand_f32({0, 4}, 3), i64({2}, {-1, 2})});
  c.add("[2,3,4] axis 0", "Flatten", {rand_f32({2, 3, 4}, 4)}, {{"axis", a_int(0)}});
  c.add("f32 axes [-1]", "Squeeze", {rand_f32({2, 1, 3, 1}, 5), i64({1}, {-1})});
  c.add("i64 all unit dims", "Squeeze", {any(I64, {2, 1, 3, 1}, 6)});
  c.add("opset 11 attr axes", "Squeeze", {rand_f32({1, 3, 1}, 7)}, {{"axes", a_ints({0})}}, 11);
  c.add("f16 axes [0,-1]", "Unsqueeze", {any(F16, {2, 3}, 8), i64({2}, {0, -1})});
  c.add("opset 11 attr axes", "Unsqueeze", {rand_f32({2, 3}, 9)}, {{"axes", a_ints({1, 3})}}, 11);

  c.add("f32 [2,3,4,5] perm [0,2,1,3]", "Transpose", {rand_f32({2, 3, 4, 5}, 10)}, {{"perm", a_ints({0, 2, 1, 3})}});
  c.add("f32 [2,3,4,5] perm [3,1,0,2]", "Transpose", {rand_f32({2, 3, 4, 5}, 11)}, {{"perm", a_ints({3, 1, 0, 2})}});
  c.add("f32 [2,3,4] default perm", "Transpose", {rand_f32({2, 3, 4}, 12)});
  c.add("f16 [33,65] perm [1,0]", "Transpose", {any(F16, {33, 65}, 13)}, {{"perm", a_ints({1, 0})}});
  c.add("bf16 [2,8,3,16] perm [0,2,1,3]", "Transpose", {any(BF16, {2, 8, 3, 16}, 14)}, {{"perm", a_ints({0, 2, 1, 3})}});
  c.add("i64 [3,1,4] perm [2,0,1]", "Transpose", {any(I64, {3, 1, 4}, 15)}, {{"perm", a_ints({2, 0, 1})}});
  c.add("bool [4,5,6] perm [1,2,0]", "Transpose", {any(BOOL, {4, 5, 6}, 16)}, {{"perm", a_ints({1, 2, 0})}});
  c.add("u8 [4,16,8] perm [0,2,1]", "Transpose", {any(U8, {4, 16, 8}, 17)}, {{"perm", a_ints({0, 2, 1})}});
  c.add("f32 [64,1000] perm [1,0]", "Transpose", {rand_f32({64, 1000}, 18)}, {{"perm", a_ints({1, 0})}});
  c.add("f32 NCHW->NHWC [2,16,9,10]", "Transpose", {rand_f32({2, 16, 9, 10}, 191)}, {{"perm", a_ints({0, 2, 3, 1})}});
  c.add("f16 NHWC->NCHW [3,9,10,20]", "Transpose", {any(F16, {3, 9, 10, 20}, 192)}, {{"perm", a_ints({0, 3, 1, 2})}});
  c.add("u8 [5,40,33] perm [0,2,1]", "Transpose", {any(U8, {5, 40, 33}, 193)}, {{"perm", a_ints({0, 2, 1})}});
  c.add("i64 [40,3,50] perm [2,1,0]", "Transpose", {any(I64, {40, 3, 50}, 194)}, {{"perm", a_ints({2, 1, 0})}});
  c.add("f32 [1,3,1] identity perm", "Transpose", {rand_f32({1, 3, 1}, 19)}, {{"perm", a_ints({0, 1, 2})}});
  c.add("f32 empty [0,3]", "Transpose", {rand_f32({0, 3}, 20)});

  c.add("f32 [3,1] to [2,1,4]", "Expand", {rand_f32({3, 1}, 21), i64({3}, {2, 1, 4})});
  c.add("f32 [2,3,4] to [3,1] (smaller target)", "Expand", {rand_f32({2, 3, 4}, 22), i64({2}, {3, 1})});
  c.add("f32 [300,1] to [300,20]", "Expand", {rand_f32({300, 1}, 195), i64({2}, {300, 20})});
  c.add("i64 [1] to [1000]", "Expand", {any(I64, {1}, 23), i64({1}, {1000})});
  c.add("f16 [1,5,1] to [3,5,2]", "Expand", {any(F16, {1, 5, 1}, 24), i64({3}, {3, 5, 2})});
  c.add("bool scalar to [2,3]", "Expand", {any(BOOL, {}, 25), i64({2}, {2, 3})});
  c.add("u8 [3,1] to [3,0] (empty)", "Expand", {any(U8, {3, 1}, 26), i64({2}, {3, 0})});

  c.add("f32 [2,3] x [2,3]", "Tile", {rand_f32({2, 3}, 27), i64({2}, {2, 3})});
  c.add("i64 [2,1,3] x [1,4,1]", "Tile", {any(I64, {2, 1, 3}, 28), i64({3}, {1, 4, 1})});
  c.add("f16 [5] x [1]", "Tile", {any(F16, {5}, 29), i64({1}, {1})});
  c.add("bool [2,2] x [3,1]", "Tile", {any(BOOL, {2, 2}, 30), i64({2}, {3, 1})});
  c.add("u8 [3] x [0] (empty)", "Tile", {any(U8, {3}, 31), i64({1}, {0})});

  c.add("f32 [1,8,2,3] b2 DCR", "DepthToSpace", {rand_f32({1, 8, 2, 3}, 32)}, {{"blocksize", a_int(2)}});
  c.add("f32 [2,8,3,2] b2 CRD", "DepthToSpace", {rand_f32({2, 8, 3, 2}, 33)},
        {{"blocksize", a_int(2)}, {"mode", a_str("CRD")}});
  c.add("f16 [2,18,3,2] b3 DCR", "DepthToSpace", {any(F16, {2, 18, 3, 2}, 34)}, {{"blocksize", a_int(3)}});
  c.add("f32 [1,2,4,6] b2", "SpaceToDepth", {rand_f32({1, 2, 4, 6}, 35)}, {{"blocksize", a_int(2)}});
  c.add("i64 [2,3,6,3] b3", "SpaceToDepth", {any(I64, {2, 3, 6, 3}, 36)}, {{"blocksize", a_int(3)}});
}

void slice_cases(Cases& c) {
  const int64_t big = std::numeric_limits<int64_t>::max();
  const auto x = rand_f32({5, 6, 7}, 40);
  c.add("f32 axes [0,2] out-of-range end", "Slice", {x, i64({2}, {1, -5}), i64({2}, {4, 100}), i64({2}, {0, 2})});
  c.add("f32 full reverse axis 1", "Slice", {x, i64({1}, {-1}), i64({1}, {-big}), i64({1}, {1}), i64({1}, {-1})});
  c.add("f32 step -2 start past end", "Slice", {x, i64({1}, {100}), i64({1}, {0}), i64({1}, {-1}), i64({1}, {-2})});
  c.add("f32 steps [2,-3] axes [-1,0]", "Slice",
        {x, i64({2}, {0, -1}), i64({2}, {big, -big}), i64({2}, {-1, 0}), i64({2}, {2, -3})});
  c.add("f32 no axes start -100", "Slice", {x, i64({2}, {-100, 2}), i64({2}, {3, 4})});
  c.add("f32 empty (start == end)", "Slice", {x, i64({1}, {2}), i64({1}, {2}), i64({1}, {1})});
  c.add("i32 bounds, i64 data", "Slice", {any(I64, {4, 9}, 41), i32({1}, {1}), i32({1}, {8}), i32({1}, {1}), i32({1}, {3})});
  c.add("f16 [3,1000] cols 1..999", "Slice", {any(F16, {3, 1000}, 42), i64({1}, {1}), i64({1}, {999}), i64({1}, {1})});
  c.add("bool reverse both", "Slice", {any(BOOL, {3, 4}, 43), i64({2}, {-1, -1}), i64({2}, {-big, -big}),
                                       i64({2}, {0, 1}), i64({2}, {-1, -1})});
  c.add("opset 9 attrs", "Slice", {x}, {{"starts", a_ints({1, 0})}, {"ends", a_ints({3, 100})}, {"axes", a_ints({1, 2})}}, 9);

  const auto a = rand_f32({2, 3, 4}, 44);
  c.add("f32 axis 0", "Concat", {a, rand_f32({1, 3, 4}, 45), rand_f32({3, 3, 4}, 46)}, {{"axis", a_int(0)}});
  c.add("f32 axis 1", "Concat", {a, rand_f32({2, 5, 4}, 47)}, {{"axis", a_int(1)}});
  c.add("f32 axis 2", "Concat", {a, rand_f32({2, 3, 1}, 48), rand_f32({2, 3, 6}, 49)}, {{"axis", a_int(2)}});
  c.add("f32 axis -1 with empty", "Concat", {a, rand_f32({2, 3, 0}, 50), a}, {{"axis", a_int(-1)}});
  c.add("i64 axis 0", "Concat", {any(I64, {2, 3}, 51), any(I64, {5, 3}, 52)}, {{"axis", a_int(0)}});
  c.add("bool axis 1", "Concat", {any(BOOL, {2, 3}, 53), any(BOOL, {2, 1}, 54)}, {{"axis", a_int(1)}});
  c.add("f16 axis 1 one input", "Concat", {any(F16, {3, 7}, 55)}, {{"axis", a_int(1)}});
  c.add("u8 axis -2 [1000]", "Concat", {any(U8, {600, 2}, 56), any(U8, {401, 2}, 57)}, {{"axis", a_int(-2)}});

  c.add("f32 num_outputs 3 of 7 (uneven)", "Split", {rand_f32({2, 7}, 60)}, {{"axis", a_int(1)}, {"num_outputs", a_int(3)}}, 18, 3);
  c.add("f32 split [2,5] axis -1", "Split", {rand_f32({3, 7}, 61), i64({2}, {2, 5})}, {{"axis", a_int(-1)}}, 13, 2);
  c.add("i64 split [1,0,3] axis 0", "Split", {any(I64, {4, 3}, 62), i64({3}, {1, 0, 3})}, {}, 13, 3);
  c.add("f16 equal halves", "Split", {any(F16, {4, 6}, 63)}, {{"axis", a_int(1)}}, 13, 2);
  c.add("bool opset 11 attr split", "Split", {any(BOOL, {5, 2}, 64)}, {{"split", a_ints({3, 2})}}, 11, 2);

  const auto p = rand_f32({3, 4}, 70);
  const auto pads = i64({4}, {1, 0, 2, 1});
  c.add("f32 constant value 1.5", "Pad", {p, pads, scalar_f32(1.5f)});
  c.add("f32 constant default 0", "Pad", {p, pads});
  for (const char* m : {"edge", "reflect", "wrap"}) {
    c.add(std::string("f32 ") + m, "Pad", {p, pads}, {{"mode", a_str(m)}});
    c.add(std::string("f32 ") + m + " crop", "Pad", {p, i64({4}, {-1, 2, 0, -1})}, {{"mode", a_str(m)}});
    c.add(std::string("f32 ") + m + " wide", "Pad", {rand_f32({2, 3}, 71), i64({4}, {3, 5, 4, 7})}, {{"mode", a_str(m)}});
  }
  c.add("f32 axes [-1]", "Pad", {p, i64({2}, {2, 3}), Tensor(), i64({1}, {-1})}, {{"mode", a_str("reflect")}});
  c.add("i64 constant -7", "Pad", {any(I64, {2, 3, 2}, 72), i64({6}, {0, 1, 1, 1, 0, 2}), i64({}, {-7})});
  c.add("f16 reflect", "Pad", {any(F16, {4, 5}, 73), i64({4}, {2, 3, 1, 4})}, {{"mode", a_str("reflect")}});
  c.add("u8 edge", "Pad", {any(U8, {3, 3}, 74), i64({4}, {2, 2, 2, 2})}, {{"mode", a_str("edge")}});
  c.add("bool constant true", "Pad", {any(BOOL, {2, 2}, 75), i64({4}, {1, 1, 1, 1}), boolean({}, {true})});
  c.add("f32 empty input, constant fill", "Pad", {rand_f32({0, 3}, 76), i64({4}, {2, 0, 0, 0}), scalar_f32(3.f)});
  c.add("opset 10 attrs", "Pad", {p}, {{"pads", a_ints({0, 1, 1, 0})}, {"value", a_float(-2.f)}}, 10);
  c.add("opset 10 reflect", "Pad", {p}, {{"pads", a_ints({1, 2, 1, 2})}, {"mode", a_str("reflect")}}, 10);
}

void gather_cases(Cases& c) {
  const auto d = rand_f32({5, 4}, 80);
  c.add("f32 axis 0", "Gather", {d, i64({3}, {0, -1, 2})});
  c.add("f32 axis 1 neg i32 [2,2]", "Gather", {d, i32({2, 2}, {-4, 3, -1, 0})}, {{"axis", a_int(1)}});
  c.add("f32 axis -1 scalar index", "Gather", {d, scalar_i64(-2)}, {{"axis", a_int(-1)}});
  c.add("f16 [2,3,4] axis 1", "Gather", {any(F16, {2, 3, 4}, 81), i64({4}, {2, 0, -3, 1})}, {{"axis", a_int(1)}});
  c.add("i64 axis 0", "Gather", {any(I64, {6}, 82), i64({2, 3}, {5, 4, 3, -6, 0, 1})});
  c.add("bool axis 1", "Gather", {any(BOOL, {3, 5}, 83), i64({2}, {4, -5})}, {{"axis", a_int(1)}});
  c.add("u8 empty indices", "Gather", {any(U8, {3, 4}, 84), i64({0}, {})});
  c.add("f32 [3,1000] rows", "Gather", {rand_f32({3, 1000}, 85), i64({5}, {2, 0, 1, -1, 2})});
  c.add("f16 [10,7] odd rows", "Gather", {any(F16, {10, 7}, 86), i32({3}, {9, -10, 4})});

  c.add("f32 axis 1 neg", "GatherElements", {d, i64({5, 2}, {0, -1, 3, 2, -4, 1, 1, 1, 0, 3})}, {{"axis", a_int(1)}});
  c.add("f32 axis 0 smaller", "GatherElements", {d, i64({2, 3}, {4, 0, -5, 1, 2, 3})}, {{"axis", a_int(0)}});
  c.add("i64 i32 idx axis -1", "GatherElements", {any(I64, {2, 3, 4}, 87), i32({2, 3, 2}, {0, 3, 1, 2, -1, -4, 3, 3, 2, 1, 0, 0})},
        {{"axis", a_int(-1)}});
  c.add("bool axis 0", "GatherElements", {any(BOOL, {3, 2}, 88), i64({2, 2}, {2, 0, 1, -1})});

  const auto nd = rand_f32({2, 3, 4}, 89);
  c.add("f32 m=2", "GatherND", {nd, i64({2, 2}, {0, 1, 1, -1})});
  c.add("f32 m=3 elements", "GatherND", {nd, i64({2, 1, 3}, {1, 2, 3, 0, -3, -1})});
  c.add("f32 batch_dims 1", "GatherND", {nd, i64({2, 2, 1}, {2, 0, -1, 1})}, {{"batch_dims", a_int(1)}});
  c.add("f16 batch_dims 2", "GatherND", {any(F16, {2, 3, 4, 5}, 90), i64({2, 3, 1}, {0, 1, 2, 3, -1, 1})}, {{"batch_dims", a_int(2)}});
  c.add("i64 m=1", "GatherND", {any(I64, {4, 3}, 91), i64({3, 1}, {3, -4, 1})});

  c.add("f32 axis -1 neg index", "OneHot", {i64({2, 3}, {0, -1, 4, 7, 2, -6}), scalar_i64(5), f32({2}, {0.f, 1.f})},
        {{"axis", a_int(-1)}});
  c.add("i64 values axis 0", "OneHot", {i32({3}, {1, 0, 2}), scalar_i64(3), i64({2}, {-1, 9})}, {{"axis", a_int(0)}});
  c.add("f32 indices axis 1", "OneHot", {f32({2, 2}, {1.f, 3.f, 0.f, 2.f}), scalar_f32(4.f), f32({2}, {2.f, 5.f})},
        {{"axis", a_int(1)}});
  c.add("f16 values", "OneHot", {i64({4}, {3, 2, 1, 0}), scalar_i64(4), vals(F16, {2}, {-0.5, 0.25})});

  c.add("f32 axis 0", "Compress", {d, boolean({5}, {true, false, true, true, false})}, {{"axis", a_int(0)}});
  c.add("f32 axis 1 short cond", "Compress", {d, boolean({2}, {false, true})}, {{"axis", a_int(1)}});
  c.add("i64 no axis", "Compress", {any(I64, {2, 3}, 92), boolean({5}, {true, true, false, false, true})});
  c.add("f16 all false", "Compress", {any(F16, {3, 2}, 93), boolean({3}, {false, false, false})}, {{"axis", a_int(0)}});
}

void scatter_cases(Cases& c) {
  const auto d = rand_f32({3, 4}, 100);
  const auto idx = i64({2, 4}, {0, 2, -1, 1, 2, 0, 1, -2});
  const auto dup = i64({3, 2}, {1, 0, 1, 1, -2, 3});  // repeats along axis 0: ordered reductions
  for (const char* r : {"none", "add", "mul", "max", "min"}) {
    c.add(std::string("f32 axis 0 ") + r, "ScatterElements", {d, idx, rand_f32({2, 4}, 101)}, {{"reduction", a_str(r)}});
    c.add(std::string("f32 dup axis 1 ") + r, "ScatterElements", {d, dup, rand_f32({3, 2}, 102)},
          {{"axis", a_int(1)}, {"reduction", a_str(r)}});
    c.add(std::string("f32 dup rows ") + r, "ScatterND", {rand_f32({4, 3}, 103), i64({3, 1}, {1, -3, 2}),
                                                          rand_f32({3, 3}, 104)}, {{"reduction", a_str(r)}});
  }
  c.add("i64 add i32 idx", "ScatterElements", {any(I64, {2, 3}, 105), i32({2, 3}, {1, 1, 0, 1, 0, 0}), any(I64, {2, 3}, 106)},
        {{"reduction", a_str("add")}});
  c.add("f16 add dup", "ScatterElements", {any(F16, {5}, 107), i64({4}, {1, 1, -1, 1}), any(F16, {4}, 108)},
        {{"reduction", a_str("add")}});
  c.add("bool max", "ScatterElements", {any(BOOL, {3, 3}, 109), i64({1, 3}, {2, 0, 1}), any(BOOL, {1, 3}, 110)},
        {{"reduction", a_str("max")}});
  c.add("u8 none [1000]", "ScatterElements", {any(U8, {1000}, 111), ints_as(I64, {300}, 112, -1000, 999), any(U8, {300}, 113)});

  const auto nd = rand_f32({4, 4, 4}, 114);
  c.add("f32 slices", "ScatterND", {nd, i64({2, 1}, {0, -2}), rand_f32({2, 4, 4}, 115)});
  c.add("f32 elements add dup", "ScatterND", {nd, i64({4, 3}, {0, 1, 2, 3, 3, 3, 0, 1, 2, -4, 1, -2}), rand_f32({4}, 116)},
        {{"reduction", a_str("add")}});
  c.add("f32 rows m=2 mul", "ScatterND", {nd, i64({2, 2, 2}, {1, 2, 3, 0, 1, 2, -1, -1}), rand_f32({2, 2, 4}, 117)},
        {{"reduction", a_str("mul")}});
  c.add("i64 max", "ScatterND", {any(I64, {5, 2}, 118), i64({3, 1}, {4, 0, 4}), any(I64, {3, 2}, 119)}, {{"reduction", a_str("max")}});
  c.add("f16 min", "ScatterND", {any(F16, {6}, 120), i64({3, 1}, {5, 5, 0}), any(F16, {3}, 121)}, {{"reduction", a_str("min")}});
  c.add("i8 add many dup", "ScatterND", {any(I8, {8}, 122), ints_as(I64, {500, 1}, 123, -8, 7), any(I8, {500}, 124)},
        {{"reduction", a_str("add")}});
  c.add("f32 no updates", "ScatterND", {nd, i64({0, 1}, {}), rand_f32({0, 4, 4}, 125)});

  c.add("f32 opset 10", "Scatter", {d, i64({2, 3}, {1, 0, 2, 0, 2, 1}), rand_f32({2, 3}, 126)}, {}, 10);
  c.add("i64 axis 1 opset 10", "Scatter", {any(I64, {2, 3}, 127), i64({2, 1}, {-1, 0}), any(I64, {2, 1}, 128)},
        {{"axis", a_int(1)}}, 10);
}

void constant_cases(Cases& c) {
  c.add("default f32 0 [2,3]", "ConstantOfShape", {i64({2}, {2, 3})});
  c.add("f32 1.5 [4,1,5]", "ConstantOfShape", {i64({3}, {4, 1, 5})}, {{"value", a_tensor(f32({1}, {1.5f}))}});
  c.add("i64 7 [1000]", "ConstantOfShape", {i64({1}, {1000})}, {{"value", a_tensor(i64({1}, {7}))}});
  c.add("f16 -2 [3]", "ConstantOfShape", {i64({1}, {3})}, {{"value", a_tensor(vals(F16, {1}, {-2.0}))}});
  c.add("bool true [2,2]", "ConstantOfShape", {i64({2}, {2, 2})}, {{"value", a_tensor(boolean({1}, {true}))}});
  c.add("i32 empty [0,3]", "ConstantOfShape", {i64({2}, {0, 3})}, {{"value", a_tensor(i32({1}, {5}))}});
  c.add("scalar", "ConstantOfShape", {i64({0}, {})}, {{"value", a_tensor(f32({1}, {4.f}))}});

  c.add("f32 0..10 by 0.3", "Range", {scalar_f32(0.f), scalar_f32(10.f), scalar_f32(0.3f)});
  c.add("f64 -1..2.5 by 0.1", "Range", {vals(F64, {}, {-1.0}), vals(F64, {}, {2.5}), vals(F64, {}, {0.1})}, {}, 21, 1, 1e-15);
  c.add("f16 1..4 by 0.25", "Range", {vals(F16, {}, {1.0}), vals(F16, {}, {4.0}), vals(F16, {}, {0.25})});
  c.add("i64 10..-3 by -2", "Range", {scalar_i64(10), scalar_i64(-3), scalar_i64(-2)});
  c.add("i32 0..2000 by 1", "Range", {i32({}, {0}), i32({}, {2000}), i32({}, {1})});
  c.add("i64 empty", "Range", {scalar_i64(5), scalar_i64(1), scalar_i64(1)});

  c.add("f32 [3,4]", "EyeLike", {rand_f32({3, 4}, 130)});
  c.add("f32 [4,3] k=1", "EyeLike", {rand_f32({4, 3}, 131)}, {{"k", a_int(1)}});
  c.add("i64 from f32 k=-2", "EyeLike", {rand_f32({5, 5}, 132)}, {{"k", a_int(-2)}, {"dtype", a_int(7)}});
  c.add("bool [2,6] k=3", "EyeLike", {any(BOOL, {2, 6}, 133)}, {{"k", a_int(3)}});
  c.add("f16 k=9 (empty band)", "EyeLike", {any(F16, {3, 4}, 134)}, {{"k", a_int(9)}});
}

void scan_cases(Cases& c) {
  const auto x = rand_f32({3, 5}, 140);
  for (int e = 0; e < 2; ++e)
    for (int r = 0; r < 2; ++r) {
      const Attrs at = {{"exclusive", a_int(e)}, {"reverse", a_int(r)}};
      const std::string v = " excl " + std::to_string(e) + " rev " + std::to_string(r);
      c.add("f32 [3,5] axis 1" + v, "CumSum", {x, scalar_i64(1)}, at, 21, 1, 1e-6);
      c.add("f32 [3,5] axis 0" + v, "CumSum", {x, i32({}, {0})}, at, 21, 1, 1e-6);
      c.add("i64 [2,2000] axis -1" + v, "CumSum", {any(I64, {2, 2000}, 141), scalar_i64(-1)}, at);
      c.add("f32 dyadic [3,1500]" + v, "CumSum", {ints_as(F32, {3, 1500}, 142, -8, 8), scalar_i64(1)}, at, 21, 1, 1e-6);
    }
  c.add("i32 [2,3,4] axis 1", "CumSum", {any(I32, {2, 3, 4}, 143), scalar_i64(1)});
  c.add("f16 [4,6] axis -1", "CumSum", {any(F16, {4, 6}, 144), scalar_i64(-1)}, {}, 21, 1, 1e-3);
  c.add("f64 [7] axis 0", "CumSum", {any(F64, {7}, 145), scalar_i64(0)}, {}, 21, 1, 1e-12);
  c.add("u8 [2,1100] wraps", "CumSum", {any(U8, {2, 1100}, 146), scalar_i64(1)});
  c.add("f32 empty [0,3]", "CumSum", {rand_f32({0, 3}, 147), scalar_i64(1)});

  c.add("f32 [4,5] upper", "Trilu", {rand_f32({4, 5}, 150)});
  c.add("f32 [4,5] lower k=1", "Trilu", {rand_f32({4, 5}, 151), scalar_i64(1)}, {{"upper", a_int(0)}});
  c.add("f16 [2,3,4] upper k=-1", "Trilu", {any(F16, {2, 3, 4}, 152), scalar_i64(-1)});
  c.add("i64 [3,3] lower k=-5", "Trilu", {any(I64, {3, 3}, 153), scalar_i64(-5)}, {{"upper", a_int(0)}});
  c.add("bool [2,5,5] upper k=2", "Trilu", {any(BOOL, {2, 5, 5}, 154), scalar_i64(2)});

  c.add("f32 time-major", "ReverseSequence", {rand_f32({4, 3, 2}, 160), i64({3}, {4, 1, 2})},
        {{"time_axis", a_int(0)}, {"batch_axis", a_int(1)}});
  c.add("f32 batch-major", "ReverseSequence", {rand_f32({3, 5, 4}, 161), i64({3}, {0, 5, 3})},
        {{"time_axis", a_int(1)}, {"batch_axis", a_int(0)}});
  c.add("f16 rows of 6", "ReverseSequence", {any(F16, {3, 2, 2, 3}, 162), i64({2}, {2, 3})});
  c.add("i64 i32 lens", "ReverseSequence", {any(I64, {2, 4}, 163), i32({4}, {1, 2, 2, 0})});
}

void nonzero_cases(Cases& c) {
  c.add("f32 [3,4] some zeros", "NonZero", {ints_as(F32, {3, 4}, 170, -1, 1)});
  c.add("bool [2,3,4]", "NonZero", {any(BOOL, {2, 3, 4}, 171)});
  c.add("i64 [1500]", "NonZero", {ints_as(I64, {1500}, 172, 0, 2)});
  c.add("f32 [3,5000] tiles", "NonZero", {ints_as(F32, {3, 5000}, 173, -1, 1)});
  c.add("u8 [2,2,2,2]", "NonZero", {ints_as(U8, {2, 2, 2, 2}, 174, 0, 1)});
  c.add("f16 [7]", "NonZero", {vals(F16, {7}, {0, -0.0, 1, 0.5, 0, -3, 0})});
  c.add("f32 all zero", "NonZero", {vals(F32, {5}, {0, 0, 0, 0, 0})});
  c.add("f32 scalar nonzero", "NonZero", {scalar_f32(2.f)});
  c.add("i32 scalar zero", "NonZero", {i32({}, {0})});
  c.add("bool empty [0,3]", "NonZero", {boolean({0, 3}, {})});
}

}  // namespace

std::vector<OpCase> tensor_cases() {
  Cases c;
  reshape_cases(c);
  slice_cases(c);
  gather_cases(c);
  scatter_cases(c);
  constant_cases(c);
  scan_cases(c);
  nonzero_cases(c);
  return std::move(c.v);
}

}  // namespace kiln::test::ops
