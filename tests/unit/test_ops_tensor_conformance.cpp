// Cross-checks the tensor-family ops (inference and CPU kernel together, through
// kernel_harness) against every single-node ONNX conformance test of the family,
// across the opset versions the data uses. Each test runs twice: with inputs as
// constants (inference sees values) and as graph inputs (inference sees shapes).
// Tests that kiln refuses as Unsupported are listed, not failed.
#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "core/dispatch.h"
#include "onnx/attributes.h"
#include "onnx/tensor_proto.h"
#include "tensor_op_util.h"

namespace kiln::test {
namespace {

namespace fs = std::filesystem;

const std::set<std::string> k_ops = {
    "Flatten", "Reshape", "Concat", "Transpose", "Constant", "ConstantOfShape", "Shape", "Size", "Gather",
    "Unsqueeze", "Squeeze", "Slice", "Expand", "Tile", "Pad", "Split", "Range", "GatherElements", "GatherND",
    "ScatterND", "ScatterElements", "Scatter", "DepthToSpace", "SpaceToDepth", "EyeLike", "OneHot", "Trilu",
    "CumSum", "NonZero", "ReverseSequence", "Compress", "Resize", "Upsample"};

fs::path conformance_dir() {
  if (const char* d = std::getenv("KILN_CONFORMANCE_DIR")) return d;
  return "/work/shared/conformance/onnx/node";
}

// numpy.allclose-style comparison; integers and bools bit-exact; NaN equals NaN.
std::string compare(const Tensor& got, const Tensor& want, double rtol, double atol) {
  if (got.dtype() != want.dtype())
    return "dtype " + std::string(dtype_name(got.dtype())) + " vs " + std::string(dtype_name(want.dtype()));
  if (got.shape() != want.shape()) return "shape " + shape_str(got.shape()) + " vs " + shape_str(want.shape());
  if (!dtype_is_float(got.dtype())) {
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
    if (!(std::fabs(g - w) <= atol + rtol * std::fabs(w)))
      return "element " + std::to_string(i) + ": " + std::to_string(g) + " vs " + std::to_string(w);
  }
  return "";
}

void run_case(const fs::path& dir, const ::onnx::ModelProto& model) {
  const auto& graph = model.graph();
  const auto& node = graph.node(0);
  NodeSpec spec;
  spec.op = node.op_type();
  for (const auto& o : model.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") spec.opset = o.version();
  for (const auto& a : node.attribute()) spec.attrs[a.name()] = onnx::attribute_from_proto(a, nullptr, "n0");
  std::map<std::string, Tensor> feeds;
  for (const auto& init : graph.initializer()) feeds[init.name()] = onnx::tensor_from_proto(init, nullptr, init.name());
  for (int i = 0; i < graph.input_size(); ++i) {
    if (feeds.count(graph.input(i).name())) continue;
    if (!graph.input(i).type().has_tensor_type())
      throw Error(ErrorCode::Unsupported, "non-tensor (optional/sequence) input");
    feeds[graph.input(i).name()] =
        onnx::load_tensor_pb((dir / "test_data_set_0" / ("input_" + std::to_string(i) + ".pb")).string());
  }
  for (const auto& in : node.input()) spec.inputs.push_back(in.empty() ? Tensor() : feeds.at(in));
  spec.num_outputs = node.output_size();
  // Resize's cubic and antialias references are computed in float64.
  const double rtol = spec.op == "Resize" ? 1e-4 : 1e-6, atol = spec.op == "Resize" ? 1e-4 : 1e-7;
  for (const bool as_const : {true, false}) {
    const std::vector<Tensor> outs = run_node(spec, as_const);
    for (int k = 0; k < graph.output_size(); ++k) {
      int idx = -1;
      for (int j = 0; j < node.output_size(); ++j)
        if (node.output(j) == graph.output(k).name()) idx = j;
      ASSERT_GE(idx, 0) << dir.filename();
      const Tensor want =
          onnx::load_tensor_pb((dir / "test_data_set_0" / ("output_" + std::to_string(k) + ".pb")).string());
      EXPECT_EQ(compare(outs[static_cast<size_t>(idx)], want, rtol, atol), "")
          << dir.filename().string() << " output " << k << " opset " << spec.opset
          << (as_const ? " (constant inputs)" : " (runtime inputs)");
    }
  }
}

TEST(TensorConformance, SingleNodeTests) {
  const fs::path root = conformance_dir();
  if (!fs::exists(root)) GTEST_SKIP() << "no conformance data at " << root;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(root)) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  int passed = 0;
  std::ostringstream skipped;
  for (const fs::path& dir : dirs) {
    ::onnx::ModelProto model;
    std::ifstream in(dir / "model.onnx", std::ios::binary);
    if (!in || !model.ParseFromIstream(&in)) continue;
    const auto& graph = model.graph();
    if (graph.node_size() != 1 || !k_ops.count(graph.node(0).op_type())) continue;
    const std::string name = dir.filename().string();
    try {
      SCOPED_TRACE(name);
      run_case(dir, model);
      ++passed;
    } catch (const Error& e) {
      if (e.code() != ErrorCode::Unsupported) {
        ADD_FAILURE() << name << ": " << e.what();
        continue;
      }
      skipped << "  " << name << ": " << e.message() << "\n";
    }
  }
  std::cout << "tensor conformance: " << passed << " ran\nunsupported (skipped):\n" << skipped.str();
  EXPECT_GT(passed, 150);
}

}  // namespace
}  // namespace kiln::test
