// Cross-checks the elementwise kernels (through kernel_harness: inference and
// kernel together) against every single-node ONNX conformance test of the
// family, reading model.onnx and test_data_set_0 with the onnx protobuf
// classes. Tests that kiln refuses as Unsupported (strings, float8/int4 casts,
// random dropout, optional/sequence types) are listed, not failed.
#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/dispatch.h"
#include "ew_test_util.h"

namespace kiln::test {
namespace {

namespace fs = std::filesystem;

const std::set<std::string> k_ops = {
    "Add", "Sub", "Mul", "Div", "Sum", "Relu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Identity",
    "Dropout", "Cast", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Tanh", "Gelu", "Erf", "Exp", "Log",
    "Pow", "Sqrt", "Reciprocal", "Neg", "Abs", "Floor", "Ceil", "Round", "Sign", "Min", "Max", "Mean",
    "Where", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or", "Xor", "Mod",
    "CastLike", "Softplus", "Softsign", "ThresholdedRelu", "Mish", "Sin", "Cos", "Tan", "Asin", "Acos",
    "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "IsNaN", "IsInf", "BitShift", "BitwiseAnd",
    "BitwiseOr", "BitwiseXor", "BitwiseNot", "Shrink"};

fs::path conformance_dir() {
  if (const char* d = std::getenv("KILN_CONFORMANCE_DIR")) return d;
  if (const char* s = std::getenv("KILN_SOURCE_DIR")) {
    fs::path p = fs::path(s) / ".." / "shared" / "conformance" / "onnx" / "node";
    if (fs::exists(p)) return p;
  }
  return "/work/shared/conformance/onnx/node";
}

template <typename P>
void read_proto(const fs::path& file, P* msg) {
  std::ifstream in(file, std::ios::binary);
  if (!in || !msg->ParseFromIstream(&in)) throw Error(ErrorCode::IO, "cannot parse " + file.string());
}

template <typename T, typename Field>
void copy_field(Tensor& t, const Field& f) {
  if (static_cast<int64_t>(f.size()) != t.numel()) throw Error(ErrorCode::Corrupt, "element count mismatch");
  for (int64_t i = 0; i < t.numel(); ++i) t.data<T>()[i] = static_cast<T>(f.Get(static_cast<int>(i)));
}

Tensor from_proto(const onnx::TensorProto& p) {
  const auto dt = static_cast<DataType>(p.data_type());
  if (!dtype_is_supported(dt))
    throw Error(ErrorCode::Unsupported, "test data of dtype #" + std::to_string(p.data_type()));
  Tensor t = Tensor::empty(dt, Shape(p.dims().begin(), p.dims().end()));
  if (p.has_raw_data()) {
    if (p.raw_data().size() != t.nbytes()) throw Error(ErrorCode::Corrupt, "raw_data size mismatch");
    if (t.nbytes()) std::memcpy(t.raw(), p.raw_data().data(), t.nbytes());
    return t;
  }
  switch (dt) {
    case DataType::Float32: copy_field<float>(t, p.float_data()); break;
    case DataType::Float64: copy_field<double>(t, p.double_data()); break;
    case DataType::Int64: copy_field<int64_t>(t, p.int64_data()); break;
    case DataType::UInt32: copy_field<uint32_t>(t, p.uint64_data()); break;
    case DataType::UInt64: copy_field<uint64_t>(t, p.uint64_data()); break;
    case DataType::Int8: copy_field<int8_t>(t, p.int32_data()); break;
    case DataType::Int16: copy_field<int16_t>(t, p.int32_data()); break;
    case DataType::Int32: copy_field<int32_t>(t, p.int32_data()); break;
    case DataType::UInt8: copy_field<uint8_t>(t, p.int32_data()); break;
    case DataType::UInt16: case DataType::Float16: case DataType::BFloat16:
      copy_field<uint16_t>(t, p.int32_data()); break;  // 16-bit floats travel as bits
    case DataType::Bool: copy_field<bool>(t, p.int32_data()); break;
    default: throw Error(ErrorCode::Unsupported, "test data dtype");
  }
  return t;
}

ir::Attribute from_proto(const onnx::AttributeProto& a) {
  switch (a.type()) {
    case onnx::AttributeProto::INT: return attr_i(a.i());
    case onnx::AttributeProto::FLOAT: return attr_f(a.f());
    case onnx::AttributeProto::STRING: return attr_s(a.s());
    case onnx::AttributeProto::INTS: return attr_ints({a.ints().begin(), a.ints().end()});
    case onnx::AttributeProto::FLOATS: return attr_floats({a.floats().begin(), a.floats().end()});
    default: throw Error(ErrorCode::Unsupported, "attribute kind of '" + a.name() + "'");
  }
}

// Compares element-wise with numpy's allclose(rtol, atol); NaN equals NaN.
std::string compare(const Tensor& got, const Tensor& want) {
  if (got.dtype() != want.dtype())
    return "dtype " + std::string(dtype_name(got.dtype())) + " vs " + std::string(dtype_name(want.dtype()));
  if (got.shape() != want.shape()) return "shape " + shape_str(got.shape()) + " vs " + shape_str(want.shape());
  const bool half = got.dtype() == DataType::Float16 || got.dtype() == DataType::BFloat16;
  const double rtol = half ? 1e-2 : 1e-4, atol = half ? 1e-3 : 1e-6;
  if (!dtype_is_float(got.dtype())) {  // integers and bools: bit-exact
    const size_t es = dtype_size(got.dtype());
    for (int64_t i = 0; i < got.numel(); ++i)
      if (std::memcmp(static_cast<const char*>(got.raw()) + i * es, static_cast<const char*>(want.raw()) + i * es, es))
        return "element " + std::to_string(i) + ": " + std::to_string(read_int(got, i)) + " vs " +
               std::to_string(read_int(want, i));
    return "";
  }
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double g = read_double(got, i), w = read_double(want, i);
    if (std::isnan(g) && std::isnan(w)) continue;
    if (std::isinf(g) || std::isinf(w)) {
      if (g != w) return "element " + std::to_string(i) + ": " + std::to_string(g) + " vs " + std::to_string(w);
      continue;
    }
    if (std::fabs(g - w) > atol + rtol * std::fabs(w))
      return "element " + std::to_string(i) + ": " + std::to_string(g) + " vs " + std::to_string(w);
  }
  return "";
}

TEST(EwConformance, SingleNodeTests) {
  const fs::path root = conformance_dir();
  if (!fs::exists(root)) GTEST_SKIP() << "no conformance data at " << root;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(root)) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  int passed = 0;
  std::ostringstream skipped;
  for (const fs::path& dir : dirs) {
    onnx::ModelProto model;
    read_proto(dir / "model.onnx", &model);
    const auto& graph = model.graph();
    if (graph.node_size() != 1 || !k_ops.count(graph.node(0).op_type())) continue;
    const auto& node = graph.node(0);
    const std::string name = dir.filename().string();
    try {
      NodeSpec spec;
      spec.op = node.op_type();
      for (const auto& o : model.opset_import())
        if (o.domain().empty() || o.domain() == "ai.onnx") spec.opset = o.version();
      for (const auto& a : node.attribute()) spec.attrs[a.name()] = from_proto(a);
      std::map<std::string, Tensor> feeds;
      for (int i = 0; i < graph.input_size(); ++i) {
        if (!graph.input(i).type().has_tensor_type())
          throw Error(ErrorCode::Unsupported, "non-tensor (optional/sequence) input");
        onnx::TensorProto tp;
        read_proto(dir / "test_data_set_0" / ("input_" + std::to_string(i) + ".pb"), &tp);
        feeds[graph.input(i).name()] = from_proto(tp);
      }
      for (const auto& init : graph.initializer()) feeds[init.name()] = from_proto(init);
      for (const auto& in : node.input()) spec.inputs.push_back(in.empty() ? Tensor() : feeds.at(in));
      spec.num_outputs = node.output_size();
      // Once with inputs as constants (inference sees values), once as graph inputs.
      for (const bool as_const : {true, false}) {
        const std::vector<Tensor> outs = run_node(spec, as_const);
        for (int k = 0; k < graph.output_size(); ++k) {
          onnx::TensorProto tp;
          read_proto(dir / "test_data_set_0" / ("output_" + std::to_string(k) + ".pb"), &tp);
          int idx = -1;
          for (int j = 0; j < node.output_size(); ++j)
            if (node.output(j) == graph.output(k).name()) idx = j;
          ASSERT_GE(idx, 0) << name;
          const std::string diff = compare(outs[static_cast<size_t>(idx)], from_proto(tp));
          EXPECT_EQ(diff, "") << name << " output " << k << (as_const ? " (constant inputs)" : "");
        }
      }
      ++passed;
    } catch (const Error& e) {
      if (e.code() != ErrorCode::Unsupported) {
        ADD_FAILURE() << name << ": " << e.what();
        continue;
      }
      skipped << "  " << name << ": " << e.message() << "\n";
    }
  }
  std::cout << "conformance: " << passed << " ran\nunsupported (skipped):\n" << skipped.str();
  EXPECT_GT(passed, 200);
}

}  // namespace
}  // namespace kiln::test
