// Pad: constant, edge, reflect and wrap modes, negative pads crop. Each output
// index along a dim maps to an input index (or to "constant") through a small
// per-dim table; negative pads crop first and the mode then pads the cropped
// range, as the ONNX reference does.
#include <algorithm>
#include <cstring>

#include "backends/cpu/kernels/copy_strided.h"
#include "backends/cpu/kernels/tensor_kernels.h"
#include "core/dispatch.h"

namespace kiln::backend::cpu {

namespace {

enum class PadMode { Constant, Edge, Reflect, Wrap };

PadMode pad_mode(const KernelContext& ctx) {
  const std::string m = ctx.node().attr_s("mode", "constant");
  if (m == "constant") return PadMode::Constant;
  if (m == "edge") return PadMode::Edge;
  if (m == "reflect") return PadMode::Reflect;
  if (m == "wrap") return PadMode::Wrap;
  ctx.fail("unknown mode '" + m + "'");
}

// Input index read by each output index along one dim; -1 reads the constant.
std::vector<int64_t> index_map(const KernelContext& ctx, PadMode mode, int64_t n, int64_t pb, int64_t pe, int64_t out_n) {
  const int64_t lo = std::max<int64_t>(0, -pb), hi = n - std::max<int64_t>(0, -pe);
  const int64_t len = hi - lo, before = std::max<int64_t>(pb, 0);
  std::vector<int64_t> map(static_cast<size_t>(out_n));
  for (int64_t o = 0; o < out_n; ++o) {
    int64_t j = o - before;
    if (j < 0 || j >= len) {
      if (mode == PadMode::Constant) { map[static_cast<size_t>(o)] = -1; continue; }
      if (len == 0) ctx.fail("cannot pad a dim of size 0 in a mode other than constant");
      if (mode == PadMode::Edge) {
        j = std::clamp<int64_t>(j, 0, len - 1);
      } else if (mode == PadMode::Wrap) {
        j = ((j % len) + len) % len;
      } else if (len == 1) {
        j = 0;
      } else {  // reflect without repeating the edge: period 2(len-1)
        const int64_t period = 2 * (len - 1);
        j = ((j % period) + period) % period;
        if (j >= len) j = period - j;
      }
    }
    map[static_cast<size_t>(o)] = lo + j;
  }
  return map;
}

// The constant as one element of dtype dt (zero when not given).
std::vector<std::byte> constant_bytes(const KernelContext& ctx, DataType dt) {
  std::vector<std::byte> v(dtype_size(dt), std::byte{0});
  if (ctx.opset() < 11) {
    const float f = ctx.node().attr_f("value", 0.f);
    dispatch_all(dt, ctx.node().label(), [&](auto tag) {
      using T = decltype(tag);
      const T t = static_cast<T>(f);
      std::memcpy(v.data(), &t, sizeof(T));
    });
  } else if (ctx.has_input(2)) {
    const Tensor& c = ctx.input(2);
    if (c.dtype() != dt) ctx.fail("constant_value and data differ in dtype");
    if (c.numel() >= 1) std::memcpy(v.data(), c.raw(), v.size());
  }
  return v;
}

void pad(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const PadMode mode = pad_mode(ctx);
  const auto fail = fail_of(ctx);
  std::vector<int64_t> pads, axes;
  bool has_axes = false;
  if (ctx.opset() < 11) {
    pads = ctx.node().attr_ints("pads");
  } else {
    pads = input_ints(ctx, 1);
    if ((has_axes = ctx.has_input(3))) axes = input_ints(ctx, 3);
  }
  const auto p = ir::rules::pads(fail, in.rank(), pads, has_axes ? &axes : nullptr);
  const Shape shape = concrete(ctx, ir::rules::pad(fail, ir::to_sym(in.shape()), p));
  Tensor& out = ctx.output(0, in.dtype(), shape);
  const std::vector<std::byte> value = constant_bytes(ctx, in.dtype());
  std::vector<std::vector<int64_t>> maps;
  for (size_t d = 0; d < shape.size(); ++d)
    maps.push_back(index_map(ctx, mode, in.shape()[d], p.begin[d], p.end[d], shape[d]));
  gather_axes(out.raw(), shape, in.raw(), in.shape(), maps, value.data(), dtype_size(in.dtype()));
}

}  // namespace

void register_pad_kernels(KernelRegistry& r) { r.add_fn("Pad", pad); }

}  // namespace kiln::backend::cpu
