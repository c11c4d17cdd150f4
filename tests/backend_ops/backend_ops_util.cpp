#include <cstring>

#include "backend_ops.h"
#include "core/half.h"
#include "kiln/error.h"

namespace kiln::test::ops {

ir::Attribute a_int(int64_t v) { ir::Attribute a; a.kind = ir::Attribute::Kind::Int; a.i = v; return a; }
ir::Attribute a_float(float v) { ir::Attribute a; a.kind = ir::Attribute::Kind::Float; a.f = v; return a; }
ir::Attribute a_str(std::string v) { ir::Attribute a; a.kind = ir::Attribute::Kind::String; a.s = std::move(v); return a; }
ir::Attribute a_ints(std::vector<int64_t> v) { ir::Attribute a; a.kind = ir::Attribute::Kind::Ints; a.ints = std::move(v); return a; }
ir::Attribute a_floats(std::vector<float> v) { ir::Attribute a; a.kind = ir::Attribute::Kind::Floats; a.floats = std::move(v); return a; }

namespace {
uint32_t next(uint32_t& s) {
  s = s * 1664525u + 1013904223u;
  return s;
}
}  // namespace

Tensor rand_f32(Shape shape, uint32_t seed, float lo, float hi) { return rand_float(DataType::Float32, std::move(shape), seed, lo, hi); }

Tensor rand_float(DataType dt, Shape shape, uint32_t seed, float lo, float hi) {
  Tensor t = Tensor::empty(dt, std::move(shape));
  uint32_t s = seed * 2654435761u + 12345u;
  for (int64_t i = 0; i < t.numel(); ++i) {
    const float x = lo + (hi - lo) * static_cast<float>(next(s) >> 8) / static_cast<float>(1u << 24);
    switch (dt) {
      case DataType::Float32: t.data<float>()[i] = x; break;
      case DataType::Float64: t.data<double>()[i] = x; break;
      case DataType::Float16: t.data<Half>()[i] = Half(x); break;
      case DataType::BFloat16: t.data<BFloat16>()[i] = BFloat16(x); break;
      default: throw Error(ErrorCode::InvalidArgument, "rand_float: not a float dtype");
    }
  }
  return t;
}

Tensor rand_int(DataType dt, Shape shape, uint32_t seed, int64_t lo, int64_t hi) {
  Tensor t = Tensor::empty(dt, std::move(shape));
  uint32_t s = seed * 2654435761u + 777u;
  const uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
  for (int64_t i = 0; i < t.numel(); ++i) {
    const int64_t v = lo + static_cast<int64_t>(next(s) % span);
    switch (dt) {
      case DataType::Bool: t.data<bool>()[i] = v != 0; break;
      case DataType::Int8: t.data<int8_t>()[i] = static_cast<int8_t>(v); break;
      case DataType::Int16: t.data<int16_t>()[i] = static_cast<int16_t>(v); break;
      case DataType::Int32: t.data<int32_t>()[i] = static_cast<int32_t>(v); break;
      case DataType::Int64: t.data<int64_t>()[i] = v; break;
      case DataType::UInt8: t.data<uint8_t>()[i] = static_cast<uint8_t>(v); break;
      case DataType::UInt16: t.data<uint16_t>()[i] = static_cast<uint16_t>(v); break;
      case DataType::UInt32: t.data<uint32_t>()[i] = static_cast<uint32_t>(v); break;
      case DataType::UInt64: t.data<uint64_t>()[i] = static_cast<uint64_t>(v); break;
      default: throw Error(ErrorCode::InvalidArgument, "rand_int: not an integer dtype");
    }
  }
  return t;
}

Tensor f32(Shape shape, std::vector<float> v) { return Tensor::from_vector(DataType::Float32, std::move(shape), v); }
Tensor i64(Shape shape, std::vector<int64_t> v) { return Tensor::from_vector(DataType::Int64, std::move(shape), v); }
Tensor i32(Shape shape, std::vector<int32_t> v) { return Tensor::from_vector(DataType::Int32, std::move(shape), v); }
Tensor boolean(Shape shape, std::vector<bool> v) {
  Tensor t = Tensor::empty(DataType::Bool, std::move(shape));
  for (size_t i = 0; i < v.size() && static_cast<int64_t>(i) < t.numel(); ++i) t.data<bool>()[i] = v[i];
  return t;
}
Tensor scalar_i64(int64_t v) { return i64({}, {v}); }
Tensor scalar_f32(float v) { return f32({}, {v}); }

}  // namespace kiln::test::ops
