// Resize (opsets 10-19) and Upsample (7-9) on CUDA, mirroring
// backends/cpu/kernels/resize.cpp: attributes and output sizes come from
// ir/ops/resize_rules.h, taps from a device table kernel, and the separable
// passes run innermost axis first like the CPU's (resize_device.cuh). The
// common NCHW spatial case is one fused pass; other axis sets take one pass
// per axis through workspace buffers.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>

#include "backends/cuda/kernels/resize_device.cuh"
#include "backends/kernel_params.h"
#include "core/dispatch.h"

namespace kiln::backend::cuda {

namespace {

using det::AxisPlan;
using det::Carver;
using det::Tab;
using det::TablePlan;
using ir::rules::CoordMode;
using ir::rules::ResizeAttrs;
using ir::rules::ResizeMode;
using ir::rules::ResizePlan;

// One apply pass over a [planes, H, W] view; an axis of -1 is not resized.
struct Pass {
  int64_t planes = 1, ih = 1, iw = 1, oh = 1, ow = 1;
  int y_axis = -1, x_axis = -1;
};

using params::prod;

// The passes, innermost axis first: W and H of the two innermost dims fused
// into one, then one per remaining axis (H = the axis, W = all after it).
std::vector<Pass> plan_passes(const Shape& in, const Shape& out, const std::vector<int>& axes) {
  std::vector<Pass> passes;
  Shape cur = in;
  const int rank = static_cast<int>(in.size());
  std::vector<int> rest = axes;  // ascending
  auto has = [&](int d) { return std::find(rest.begin(), rest.end(), d) != rest.end(); };
  auto drop = [&](int d) { rest.erase(std::find(rest.begin(), rest.end(), d)); };
  if (rank >= 1 && has(rank - 1)) {
    Pass p;
    p.x_axis = rank - 1;
    p.iw = cur[static_cast<size_t>(rank - 1)];
    p.ow = out[static_cast<size_t>(rank - 1)];
    drop(rank - 1);
    size_t lead = static_cast<size_t>(rank - 1);
    if (rank >= 2 && has(rank - 2)) {
      p.y_axis = rank - 2;
      p.ih = cur[static_cast<size_t>(rank - 2)];
      p.oh = out[static_cast<size_t>(rank - 2)];
      drop(rank - 2);
      lead = static_cast<size_t>(rank - 2);
    }
    p.planes = prod(cur, 0, lead);
    passes.push_back(p);
    cur[static_cast<size_t>(rank - 1)] = out[static_cast<size_t>(rank - 1)];
    if (p.y_axis >= 0) cur[static_cast<size_t>(rank - 2)] = out[static_cast<size_t>(rank - 2)];
  }
  for (auto it = rest.rbegin(); it != rest.rend(); ++it) {
    const size_t d = static_cast<size_t>(*it);
    Pass p;
    p.y_axis = *it;
    p.planes = prod(cur, 0, d);
    p.ih = cur[d];
    p.oh = out[d];
    p.iw = p.ow = prod(cur, d + 1, cur.size());
    passes.push_back(p);
    cur[d] = out[d];
  }
  return passes;
}

// Threads: x over ow, y over oh, z over planes; small rows give their
// threads to the other dims.
void geometry(const Pass& p, dim3& grid, dim3& block) {
  auto pow2 = [](int64_t v, unsigned cap) {
    unsigned r = 1;
    while (r < cap && static_cast<int64_t>(r) < v) r *= 2;
    return r;
  };
  block.x = pow2(p.ow, 256);
  block.y = pow2(p.oh, 256 / block.x);
  block.z = pow2(p.planes, std::min(64u, 256 / (block.x * block.y)));
  auto blocks = [](int64_t n, unsigned b, int64_t cap) {
    return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>((n + b - 1) / b, cap)));
  };
  grid = dim3(blocks(p.ow, block.x, int64_t{1} << 20), blocks(p.oh, block.y, 65535), blocks(p.planes, block.z, 65535));
}

// Resize-10 and Upsample-9 read scales from input 1, Upsample-7/8 from an attribute.
bool resizes(const ResizeAttrs& a, const ResizePlan& p, const Shape& in, const Shape& out, size_t d) {
  return out[d] != in[d] || p.scales[d] != 1.0 || a.coord == CoordMode::TfCropAndResize;
}

// Tap tables of the resized axes, carved from the workspace (by_dim: each
// dim's AxisPlan, null when not resized); launched when `stream` is given,
// else only sized.
template <typename A>
void make_tables(const ResizeAttrs& a, const ResizePlan& plan, const Shape& in, const Shape& out,
                 const std::vector<int>& axes, Carver& carve, std::vector<AxisPlan*>& by_dim, TablePlan& tp,
                 const CudaStream* stream) {
  tp.mode = a.mode;
  tp.coord = a.coord;
  tp.nearest = a.nearest;
  tp.cubic_a = a.cubic_a;
  tp.exclude_outside = a.exclude_outside;
  tp.antialias = a.antialias;
  tp.axes = static_cast<int>(axes.size());
  by_dim.assign(in.size(), nullptr);
  int64_t first = 0;
  for (size_t j = 0; j < axes.size(); ++j) {
    const size_t d = static_cast<size_t>(axes[j]);
    AxisPlan& ax = tp.ax[j];
    ax.in = in[d];
    ax.out = out[d];
    ax.scale = plan.scales[d];
    ax.roi_start = plan.roi_start[d];
    ax.roi_end = plan.roi_end[d];
    if (a.mode == ResizeMode::Nearest) {
      ax.taps = 1;
    } else if (!a.antialias) {
      ax.taps = a.mode == ResizeMode::Linear ? 2 : 4;
    } else {
      const double s = std::min(ax.scale, 1.0);
      const double support = a.mode == ResizeMode::Linear ? 1.0 : 2.0;
      ax.aa_start = static_cast<int64_t>(std::floor(-support / s)) + 1;
      ax.taps = 2 - 2 * ax.aa_start;  // [start, 2 - start)
    }
    ax.first = first;
    first += ax.out;
    ax.idx = carve.take<int64_t>(ax.out * ax.taps);
    ax.w = a.mode == ResizeMode::Nearest ? nullptr : carve.take<A>(ax.out * ax.taps);
    by_dim[d] = &ax;
  }
  tp.total = first;
  if (!stream || tp.total == 0) return;  // sizing only
  det::build_tables<A><<<grid_for(tp.total), k_threads, 0, stream->get()>>>(tp);
  KILN_CUDA_LAUNCH("resize build_tables");
}

template <typename A>
Tab<A> tab_of(const std::vector<AxisPlan*>& by_dim, int axis) {
  Tab<A> t;
  if (axis < 0) return t;
  const AxisPlan* a = by_dim[static_cast<size_t>(axis)];
  t.idx = a->idx;
  t.w = static_cast<const A*>(a->w);
  t.taps = a->taps;
  return t;
}

// Interpolation (linear/cubic): T elements, A accumulation as the CPU picks it.
template <typename T>
void interpolate(KernelContext& ctx, const Tensor& in, Tensor& out, const ResizeAttrs& a, const ResizePlan& plan,
                 const std::vector<int>& axes) {
  using A = std::conditional_t<std::is_same_v<T, double> || std::is_same_v<T, int64_t>, double, float>;
  CudaStream& cs = cuda_stream(ctx);
  std::vector<Pass> passes = plan_passes(in.shape(), out.shape(), axes);
  if (passes.empty()) {  // nothing resized: still the CPU's round trip through A
    Pass p;
    p.iw = p.ow = in.numel();
    passes.push_back(p);
  }
  int64_t scratch = 0;  // largest intermediate
  for (size_t i = 0; i + 1 < passes.size(); ++i)
    scratch = std::max(scratch, passes[i].planes * passes[i].oh * passes[i].ow);
  TablePlan tp;
  std::vector<AxisPlan*> by_dim;
  Carver sizing;
  make_tables<A>(a, plan, in.shape(), out.shape(), axes, sizing, by_dim, tp, nullptr);
  sizing.take<A>(scratch);
  sizing.take<A>(scratch);
  Carver carve(cs.workspace(std::max<size_t>(sizing.used(), 256)));
  make_tables<A>(a, plan, in.shape(), out.shape(), axes, carve, by_dim, tp, &cs);
  A* buf[2] = {carve.take<A>(scratch), carve.take<A>(scratch)};
  const A extrapolation = static_cast<A>(a.extrapolation);
  for (size_t i = 0; i < passes.size(); ++i) {
    const Pass& p = passes[i];
    const bool first = i == 0, last = i + 1 == passes.size();
    const Tab<A> ty = tab_of<A>(by_dim, p.y_axis), tx = tab_of<A>(by_dim, p.x_axis);
    dim3 grid, block;
    geometry(p, grid, block);
    const void* src = first ? in.raw() : static_cast<const void*>(buf[(i - 1) % 2]);
    void* dst = last ? out.raw() : static_cast<void*>(buf[i % 2]);
    auto launch = [&](auto in_tag, auto out_tag) {
      using In = decltype(in_tag);
      using Out = decltype(out_tag);
      det::resize_interp_hw<In, Out, A><<<grid, block, 0, cs.get()>>>(
          static_cast<const In*>(src), static_cast<Out*>(dst), p.planes, p.ih, p.iw, p.oh, p.ow, ty, tx, extrapolation);
      KILN_CUDA_LAUNCH("resize_interp_hw");
    };
    if (first && last) launch(T{}, T{});
    else if (first) launch(T{}, A{});
    else if (last) launch(A{}, T{});
    else launch(A{}, A{});
  }
}

void nearest(KernelContext& ctx, const Tensor& in, Tensor& out, const ResizeAttrs& a, const ResizePlan& plan,
             const std::vector<int>& axes) {
  CudaStream& cs = cuda_stream(ctx);
  const size_t esize = dtype_size(in.dtype());
  if (axes.empty()) {  // a gather with identity maps
    KILN_CUDA(cudaMemcpyAsync(out.raw(), in.raw(), in.nbytes(), cudaMemcpyDeviceToDevice, cs.get()));
    return;
  }
  // The fill value as the CPU makes it: T(float(extrapolation_value)).
  uint64_t fill_bits = 0;
  dispatch_all(in.dtype(), ctx, [&](auto tag) {
    using T = decltype(tag);
    const T v = store<T>(static_cast<float>(a.extrapolation));
    std::memcpy(&fill_bits, &v, sizeof(T));
  });
  const std::vector<Pass> passes = plan_passes(in.shape(), out.shape(), axes);
  int64_t scratch = 0;
  for (size_t i = 0; i + 1 < passes.size(); ++i)
    scratch = std::max(scratch, passes[i].planes * passes[i].oh * passes[i].ow);
  TablePlan tp;
  std::vector<AxisPlan*> by_dim;
  Carver sizing;
  make_tables<float>(a, plan, in.shape(), out.shape(), axes, sizing, by_dim, tp, nullptr);
  sizing.take<std::byte>(scratch * static_cast<int64_t>(esize));
  sizing.take<std::byte>(scratch * static_cast<int64_t>(esize));
  Carver carve(cs.workspace(std::max<size_t>(sizing.used(), 256)));
  make_tables<float>(a, plan, in.shape(), out.shape(), axes, carve, by_dim, tp, &cs);
  std::byte* buf[2] = {carve.take<std::byte>(scratch * static_cast<int64_t>(esize)),
                       carve.take<std::byte>(scratch * static_cast<int64_t>(esize))};
  dispatch_bytes(esize, ctx, [&](auto tag) {
    using E = decltype(tag);
    E fill;
    std::memcpy(&fill, &fill_bits, sizeof(E));
    for (size_t i = 0; i < passes.size(); ++i) {
      const Pass& p = passes[i];
      const void* src = i == 0 ? in.raw() : static_cast<const void*>(buf[(i - 1) % 2]);
      void* dst = i + 1 == passes.size() ? out.raw() : static_cast<void*>(buf[i % 2]);
      const int64_t* ty = p.y_axis >= 0 ? by_dim[static_cast<size_t>(p.y_axis)]->idx : nullptr;
      const int64_t* tx = p.x_axis >= 0 ? by_dim[static_cast<size_t>(p.x_axis)]->idx : nullptr;
      dim3 grid, block;
      geometry(p, grid, block);
      det::resize_nearest_hw<E><<<grid, block, 0, cs.get()>>>(static_cast<const E*>(src), static_cast<E*>(dst),
                                                              p.planes, p.ih, p.iw, p.oh, p.ow, ty, tx, fill);
      KILN_CUDA_LAUNCH("resize_nearest_hw");
    }
  });
}

void run_resize(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const ir::rules::Fail fail(ctx.node(), ErrorCode::InvalidArgument);
  const ResizeAttrs attrs = ir::rules::resize_attrs(fail, ctx.opset(), in.rank());
  const ir::rules::ResizeArgs args = params::resize_args(ctx);
  if (in.rank() > k_max_dims)
    throw Error(ErrorCode::Unsupported, ctx.node().label() + ": rank " + std::to_string(in.rank()) + " on cuda");
  const ResizePlan plan = ir::rules::resize_plan(fail, ir::to_sym(in.shape()), attrs, args);
  if (!ir::shape_known(plan.out)) fail("output shape " + ir::sym_str(plan.out) + " is not known");
  Tensor& out = ctx.output(0, in.dtype(), ir::to_shape(plan.out));
  if (out.numel() == 0) return;
  std::vector<int> axes;  // the resized dims, ascending
  for (size_t d = 0; d < in.shape().size(); ++d)
    if (resizes(attrs, plan, in.shape(), out.shape(), d)) axes.push_back(static_cast<int>(d));
  if (attrs.mode == ResizeMode::Nearest) return nearest(ctx, in, out, attrs, plan, axes);
  dispatch_numeric(in.dtype(), ctx, [&](auto tag) { interpolate<decltype(tag)>(ctx, in, out, attrs, plan, axes); });
}

std::unique_ptr<Kernel> make_resize(const ir::Node& n, const ir::Graph& g) {
  const ir::ValueId x = n.inputs.empty() ? ir::k_no_value : n.inputs[0];
  require_rank(n, g, x);
  const bool nearest_mode = n.attr_s("mode", "nearest") == "nearest";
  if (!dtype_in(g, x, {DataType::Float32, DataType::Float64, DataType::Float16, DataType::BFloat16, DataType::Int8,
                       DataType::Int16, DataType::Int32, DataType::Int64, DataType::UInt8, DataType::UInt16,
                       DataType::UInt32, DataType::UInt64}) &&
      !(nearest_mode && dtype_in(g, x, {DataType::Bool})))
    throw Error(ErrorCode::Unsupported, n.label() + ": dtype " + std::string(dtype_name(g.value(x).dtype)) +
                                            " is not supported on cuda");
  return std::make_unique<FnKernel>(run_resize);
}

}  // namespace

void register_cuda_detection_resize(KernelRegistry& r) {
  r.add("Resize", make_resize, "cuda");
  r.add("Upsample", make_resize, "cuda");
}

}  // namespace kiln::backend::cuda
