// Build-time limits on input shapes: a declared shape or a profile with a
// dimension like 2^40 is refused before kernel timing tries to allocate it,
// with a message naming the input and the limit.
#include <gtest/gtest.h>

#include "builder/shape_limits.h"
#include "kiln/builder.h"
#include "onnx_test_util.h"

namespace kiln::test {
namespace {

constexpr int32_t k_f32 = ::onnx::TensorProto::FLOAT;
constexpr int64_t k_2p40 = int64_t{1} << 40;

// y = x @ W, x declared as [batch, 3]; MatMul has kernel candidates, which
// the builder times on the input's static shape.
std::string matmul_model(TempDir& dir, DimSpec batch) {
  ModelBuilder mb(13);
  mb.input("x", k_f32, {batch, int64_t{3}});
  mb.output("y", k_f32, {batch, int64_t{2}});
  mb.init_floats("W", {3, 2}, {1, -1, 2, 0.5f, -3, 1});
  mb.node("MatMul", {"x", "W"}, {"y"}, "mm");
  return dir.write("mm.onnx", mb.bytes());
}

// The review's case (a real model's input dim set to 2^40): the builder timed
// kernels on it and asked for petabytes.
TEST(ShapeLimits, ADeclaredDimOf2To40IsRefusedBeforeTiming) {
  TempDir dir;
  const Model m = Model::load(matmul_model(dir, k_2p40));
  EXPECT_KILN_ERROR(build_engine(m), ErrorCode::InvalidArgument, "input 'x'", "1099511627776",
                    "2^31-1");
}

TEST(ShapeLimits, AProfileOverTheLimitsIsRefused) {
  TempDir dir;
  const Model m = Model::load(matmul_model(dir, std::string("N")));
  BuildConfig c;
  // kiln run --shape x=2^40x3: min = opt = max.
  c.profiles["x"] = {{k_2p40, 3}, {k_2p40, 3}, {k_2p40, 3}};
  EXPECT_KILN_ERROR(build_engine(m, c), ErrorCode::InvalidArgument, "input 'x'", "2^31-1");
  // Only the max out of range: nothing is timed at it, but a run could ask for it.
  c.profiles["x"] = {{1, 3}, {1, 3}, {k_2p40, 3}};
  EXPECT_KILN_ERROR(build_engine(m, c), ErrorCode::InvalidArgument, "input 'x'", "profile max");
  // Large but sane (a batch of 2^30: 12 GiB at the max) still builds.
  c.profiles["x"] = {{1, 3}, {1, 3}, {int64_t{1} << 30, 3}};
  EXPECT_NO_THROW(build_engine(m, c));
}

TEST(ShapeLimits, AProfileWhoseTensorIsTooLargeIsRefused) {
  TempDir dir;
  ModelBuilder mb(13);
  mb.input("x", k_f32, {std::string("N"), std::string("M")});
  mb.output("y", k_f32, {std::string("N"), std::string("M")});
  mb.node("Relu", {"x"}, {"y"}, "relu");
  const Model m = Model::load(dir.write("relu.onnx", mb.bytes()));
  BuildConfig c;
  // Every dim fits, the tensor does not: 2^20 x 2^20 float32 is 4 TiB.
  c.profiles["x"] = {{1, 1}, {1, 1}, {int64_t{1} << 20, int64_t{1} << 20}};
  EXPECT_KILN_ERROR(build_engine(m, c), ErrorCode::InvalidArgument, "input 'x'", "4.0 TiB", "64 GiB");
  c.profiles["x"] = {{1, 1}, {1, 1}, {int64_t{1} << 20, int64_t{1} << 14}};  // 64 GiB: at the limit
  EXPECT_NO_THROW(build_engine(m, c));
}

TEST(ShapeLimits, TheCheckAlone) {
  TensorSpec s;
  s.name = "ids";
  s.dtype = DataType::Int64;
  s.shape = {-1, 128};
  EXPECT_NO_THROW(builder::check_input_shape_limits({s}));
  s.shape = {builder::k_max_input_dim, 1};
  EXPECT_NO_THROW(builder::check_input_shape_limits({s}));
  s.shape = {builder::k_max_input_dim + 1, 1};
  EXPECT_KILN_ERROR(builder::check_input_shape_limits({s}), ErrorCode::InvalidArgument, "input 'ids'", "dim 0");
  // The byte limit counts the dtype: 2^33 int64 is 64 GiB exactly, one more row is over.
  s.shape = {int64_t{1} << 23, 1024};
  EXPECT_NO_THROW(builder::check_input_shape_limits({s}));
  s.shape = {(int64_t{1} << 23) + 1, 1024};
  EXPECT_KILN_ERROR(builder::check_input_shape_limits({s}), ErrorCode::InvalidArgument, "input 'ids'", "64 GiB");
  // Products that overflow int64 are over the limit, not wrapped around.
  const int64_t d = builder::k_max_input_dim;
  s.shape = {d, d, d};
  EXPECT_THROW(builder::check_input_shape_limits({s}), Error);
}

}  // namespace
}  // namespace kiln::test
