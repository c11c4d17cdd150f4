// TensorProto decoding: every typed field, raw_data, and the checks that run
// before any allocation. Also load_tensor_pb on real conformance data.
#include <cmath>

#include "core/half.h"
#include "onnx/tensor_proto.h"
#include "onnx_test_util.h"

namespace kiln::test {
namespace {

using TP = ::onnx::TensorProto;
using onnx::tensor_from_proto;

TP make(int32_t dtype, const std::vector<int64_t>& dims, const std::string& name = "t") {
  TP t;
  t.set_name(name);
  t.set_data_type(dtype);
  for (int64_t d : dims) t.add_dims(d);
  return t;
}

TEST(OnnxTensorProto, FloatDataAndRawDataAgree) {
  const std::vector<float> vals = {1.5f, -2.f, 0.f, 3.25f, 1e-3f, -7.f};
  TP typed = make(TP::FLOAT, {2, 3});
  for (float v : vals) typed.add_float_data(v);
  TP raw = make(TP::FLOAT, {2, 3});
  raw.set_raw_data(raw_bytes(vals));
  for (const TP* p : {&typed, &raw}) {
    Tensor t = tensor_from_proto(*p, nullptr, "t");
    EXPECT_EQ(t.dtype(), DataType::Float32);
    EXPECT_EQ(t.shape(), (Shape{2, 3}));
    for (size_t i = 0; i < vals.size(); ++i) EXPECT_EQ(t.data<float>()[i], vals[i]);
  }
}

TEST(OnnxTensorProto, Int32DataPacksSmallTypes) {
  TP i8 = make(TP::INT8, {3});
  for (int v : {-128, 5, 127}) i8.add_int32_data(v);
  Tensor t8 = tensor_from_proto(i8, nullptr, "i8");
  EXPECT_EQ(t8.data<int8_t>()[0], -128);
  EXPECT_EQ(t8.data<int8_t>()[2], 127);

  TP u8 = make(TP::UINT8, {2});
  for (int v : {0, 255}) u8.add_int32_data(v);
  EXPECT_EQ(tensor_from_proto(u8, nullptr, "u8").data<uint8_t>()[1], 255);

  TP i16 = make(TP::INT16, {2});
  for (int v : {-30000, 1234}) i16.add_int32_data(v);
  EXPECT_EQ(tensor_from_proto(i16, nullptr, "i16").data<int16_t>()[0], -30000);

  TP u16 = make(TP::UINT16, {1});
  u16.add_int32_data(65535);
  EXPECT_EQ(tensor_from_proto(u16, nullptr, "u16").data<uint16_t>()[0], 65535);

  TP b = make(TP::BOOL, {3});
  for (int v : {0, 1, 1}) b.add_int32_data(v);
  Tensor tb = tensor_from_proto(b, nullptr, "b");
  EXPECT_EQ(tb.dtype(), DataType::Bool);
  EXPECT_EQ(tb.data<uint8_t>()[0], 0);
  EXPECT_EQ(tb.data<uint8_t>()[1], 1);

  TP i32 = make(TP::INT32, {2});
  for (int v : {-5, 1 << 30}) i32.add_int32_data(v);
  EXPECT_EQ(tensor_from_proto(i32, nullptr, "i32").data<int32_t>()[1], 1 << 30);
}

TEST(OnnxTensorProto, HalfTypesAreBitPatternsInInt32Data) {
  const std::vector<float> vals = {1.0f, -2.5f, 65504.f};
  TP h = make(TP::FLOAT16, {3});
  for (float v : vals) h.add_int32_data(Half::from_float(v));
  Tensor th = tensor_from_proto(h, nullptr, "h");
  ASSERT_EQ(th.dtype(), DataType::Float16);
  for (size_t i = 0; i < vals.size(); ++i) EXPECT_EQ(Half::to_float(th.data<uint16_t>()[i]), vals[i]);

  // bfloat16 is the top half of a float32: 1.0f = 0x3f80, -2.0f = 0xc000.
  TP bf = make(TP::BFLOAT16, {2});
  bf.add_int32_data(0x3f80);
  bf.add_int32_data(0xc000);
  Tensor tbf = tensor_from_proto(bf, nullptr, "bf");
  ASSERT_EQ(tbf.dtype(), DataType::BFloat16);
  EXPECT_EQ(tbf.data<uint16_t>()[0], 0x3f80);
  EXPECT_EQ(tbf.data<uint16_t>()[1], 0xc000);
}

TEST(OnnxTensorProto, WideTypedFields) {
  TP i64 = make(TP::INT64, {2});
  i64.add_int64_data(-(int64_t{1} << 40));
  i64.add_int64_data(7);
  EXPECT_EQ(tensor_from_proto(i64, nullptr, "i64").data<int64_t>()[0], -(int64_t{1} << 40));

  TP f64 = make(TP::DOUBLE, {1});
  f64.add_double_data(0.1);
  EXPECT_EQ(tensor_from_proto(f64, nullptr, "f64").data<double>()[0], 0.1);

  TP u32 = make(TP::UINT32, {2});
  u32.add_uint64_data(4294967295u);
  u32.add_uint64_data(3);
  Tensor t32 = tensor_from_proto(u32, nullptr, "u32");
  EXPECT_EQ(t32.dtype(), DataType::UInt32);
  EXPECT_EQ(t32.data<uint32_t>()[0], 4294967295u);

  TP u64 = make(TP::UINT64, {1});
  u64.add_uint64_data(~uint64_t{0});
  EXPECT_EQ(tensor_from_proto(u64, nullptr, "u64").data<uint64_t>()[0], ~uint64_t{0});
}

TEST(OnnxTensorProto, RawDataForEveryWidth) {
  TP i64 = make(TP::INT64, {3});
  i64.set_raw_data(raw_bytes(std::vector<int64_t>{1, -2, int64_t{1} << 50}));
  EXPECT_EQ(tensor_from_proto(i64, nullptr, "x").data<int64_t>()[2], int64_t{1} << 50);
  TP u8 = make(TP::UINT8, {2});
  u8.set_raw_data(std::string("\x01\xff", 2));
  EXPECT_EQ(tensor_from_proto(u8, nullptr, "x").data<uint8_t>()[1], 0xff);
  TP h = make(TP::FLOAT16, {1});
  h.set_raw_data(raw_bytes(std::vector<uint16_t>{Half::from_float(0.5f)}));
  EXPECT_EQ(Half::to_float(tensor_from_proto(h, nullptr, "x").data<uint16_t>()[0]), 0.5f);
}

TEST(OnnxTensorProto, ScalarsAndEmptyTensors) {
  TP scalar = make(TP::FLOAT, {});
  scalar.add_float_data(4.f);
  Tensor s = tensor_from_proto(scalar, nullptr, "s");
  EXPECT_EQ(s.rank(), 0);
  EXPECT_EQ(s.data<float>()[0], 4.f);
  Tensor e = tensor_from_proto(make(TP::FLOAT, {0, 3}), nullptr, "e");
  EXPECT_EQ(e.numel(), 0);
  EXPECT_EQ(e.shape(), (Shape{0, 3}));
}

TEST(OnnxTensorProto, ShapeErrorsNameTheTensor) {
  TP neg = make(TP::FLOAT, {2, -1});
  EXPECT_KILN_ERROR(tensor_from_proto(neg, nullptr, "initializer 'W'"), ErrorCode::InvalidModel, "'W'", "negative");
  TP big = make(TP::FLOAT, {int64_t{1} << 40, int64_t{1} << 40});
  EXPECT_KILN_ERROR(tensor_from_proto(big, nullptr, "initializer 'W'"), ErrorCode::InvalidModel, "'W'", "overflow");
  // Fits int64 as a count but not as bytes.
  TP bytes = make(TP::DOUBLE, {int64_t{1} << 61});
  EXPECT_KILN_ERROR(tensor_from_proto(bytes, nullptr, "initializer 'W'"), ErrorCode::InvalidModel, "overflow");
  // Huge but representable shape with no data: refused before any allocation.
  TP huge = make(TP::FLOAT, {int64_t{1} << 40});
  huge.set_raw_data("abcd");
  EXPECT_KILN_ERROR(tensor_from_proto(huge, nullptr, "initializer 'W'"), ErrorCode::InvalidModel, "raw_data");
}

TEST(OnnxTensorProto, DataSizeMismatches) {
  TP short_raw = make(TP::FLOAT, {2, 2});
  short_raw.set_raw_data(std::string(15, '\0'));
  EXPECT_KILN_ERROR(tensor_from_proto(short_raw, nullptr, "initializer 'W'"), ErrorCode::InvalidModel, "'W'", "15", "16");
  TP long_raw = make(TP::FLOAT, {2, 2});
  long_raw.set_raw_data(std::string(17, '\0'));
  EXPECT_KILN_ERROR(tensor_from_proto(long_raw, nullptr, "initializer 'W'"), ErrorCode::InvalidModel, "17");
  TP few = make(TP::INT64, {3});
  few.add_int64_data(1);
  EXPECT_KILN_ERROR(tensor_from_proto(few, nullptr, "initializer 'W'"), ErrorCode::InvalidModel, "int64_data", "holds 1");
  TP none = make(TP::FLOAT, {2});
  EXPECT_KILN_ERROR(tensor_from_proto(none, nullptr, "initializer 'W'"), ErrorCode::InvalidModel, "holds 0");
  TP wrong_field = make(TP::FLOAT, {1});
  wrong_field.add_int64_data(1);
  EXPECT_KILN_ERROR(tensor_from_proto(wrong_field, nullptr, "x"), ErrorCode::InvalidModel, "int64_data");
  TP both = make(TP::FLOAT, {1});
  both.add_float_data(1.f);
  both.set_raw_data(std::string(4, '\0'));
  EXPECT_KILN_ERROR(tensor_from_proto(both, nullptr, "x"), ErrorCode::InvalidModel, "raw_data");
}

TEST(OnnxTensorProto, UnsupportedAndMissingDtypes) {
  TP str = make(TP::STRING, {1});
  str.add_string_data("hello");
  EXPECT_KILN_ERROR(tensor_from_proto(str, nullptr, "initializer 'names'"), ErrorCode::Unsupported, "'names'", "string");
  TP cplx = make(TP::COMPLEX64, {1});
  cplx.add_float_data(1.f);
  cplx.add_float_data(2.f);
  EXPECT_KILN_ERROR(tensor_from_proto(cplx, nullptr, "initializer 'c'"), ErrorCode::Unsupported, "'c'", "complex64");
  TP f8 = make(17, {1});
  f8.set_raw_data("\x01");
  EXPECT_KILN_ERROR(tensor_from_proto(f8, nullptr, "initializer 'q'"), ErrorCode::Unsupported, "float8e4m3fn");
  TP unknown = make(99, {1});
  EXPECT_KILN_ERROR(tensor_from_proto(unknown, nullptr, "x"), ErrorCode::Unsupported, "99");
  TP undef = make(TP::UNDEFINED, {1});
  EXPECT_KILN_ERROR(tensor_from_proto(undef, nullptr, "initializer 'u'"), ErrorCode::InvalidModel, "no data type");
}

TEST(OnnxTensorProto, ExternalWithoutResolverIsRefused) {
  TP t = make(TP::FLOAT, {1});
  t.set_data_location(TP::EXTERNAL);
  auto* e = t.add_external_data();
  e->set_key("location");
  e->set_value("w.bin");
  EXPECT_KILN_ERROR(tensor_from_proto(t, nullptr, "initializer 'w'"), ErrorCode::InvalidArgument, "'w'");
}

TEST(OnnxTensorProto, LoadsConformancePbFiles) {
  const std::string dir = "/work/shared/conformance/onnx/node/test_relu/test_data_set_0/";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "conformance data not present";
  std::string in_name, out_name;
  Tensor x = onnx::load_tensor_pb(dir + "input_0.pb", &in_name);
  Tensor y = onnx::load_tensor_pb(dir + "output_0.pb", &out_name);
  EXPECT_EQ(in_name, "x");
  EXPECT_EQ(out_name, "y");
  ASSERT_EQ(x.shape(), (Shape{3, 4, 5}));
  ASSERT_EQ(y.shape(), x.shape());
  ASSERT_EQ(x.dtype(), DataType::Float32);
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(y.data<float>()[i], std::max(x.data<float>()[i], 0.f));
}

TEST(OnnxTensorProto, LoadTensorPbErrorsNameTheFile) {
  TempDir dir;
  EXPECT_KILN_ERROR(onnx::load_tensor_pb(dir.file("missing.pb")), ErrorCode::IO, "missing.pb");
  const std::string garbage = dir.write("garbage.pb", std::string("\xff\xff\xff\xff\xff", 5));
  EXPECT_KILN_ERROR(onnx::load_tensor_pb(garbage), ErrorCode::InvalidModel, "garbage.pb");
  const std::string empty = dir.write("empty.pb", "");
  EXPECT_KILN_ERROR(onnx::load_tensor_pb(empty), ErrorCode::InvalidModel, "empty.pb");
  TP bad = make(TP::FLOAT, {3}, "named");
  bad.add_float_data(1.f);
  const std::string badp = dir.write("bad.pb", bad.SerializeAsString());
  EXPECT_KILN_ERROR(onnx::load_tensor_pb(badp), ErrorCode::InvalidModel, "bad.pb", "named");
}

}  // namespace
}  // namespace kiln::test
