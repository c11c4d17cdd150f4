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

using params::PadMode;

// Input index read by each output index along one dim (reading [lo, lo + len)
// after `before` padded positions); -1 reads the constant.
std::vector<int64_t> index_map(PadMode mode, int64_t before, int64_t lo, int64_t len, int64_t out_n) {
  std::vector<int64_t> map(static_cast<size_t>(out_n));
  for (int64_t o = 0; o < out_n; ++o) {
    int64_t j = o - before;
    if (j < 0 || j >= len) {
      if (mode == PadMode::Constant) { map[static_cast<size_t>(o)] = -1; continue; }
      if (mode == PadMode::Edge) {  // len > 0 here: pad_plan checked it
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

// The constant as one element of dtype dt (zero when not given); pad_plan
// checked its dtype.
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
    if (c.numel() >= 1) std::memcpy(v.data(), c.raw(), v.size());
  }
  return v;
}

void pad(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const params::PadPlan p = params::pad_plan(ctx);
  Tensor& out = ctx.output(0, in.dtype(), p.out);
  const std::vector<std::byte> value = constant_bytes(ctx, in.dtype());
  std::vector<std::vector<int64_t>> maps;
  for (size_t d = 0; d < p.out.size(); ++d) maps.push_back(index_map(p.mode, p.before[d], p.lo[d], p.len[d], p.out[d]));
  gather_axes(out.raw(), p.out, in.raw(), in.shape(), maps, value.data(), dtype_size(in.dtype()));
}

}  // namespace

void register_pad_kernels(KernelRegistry& r) { r.add_fn("Pad", pad); }

}  // namespace kiln::backend::cpu
