// Conv, com.kiln FusedConv / FusedConvDw and ConvTranspose on cuDNN's graph
// API (cudnn_conv_plan.h): the geometry is the CPU's (ir/ops/nn_attrs.h),
// plans come from a process-wide pool per problem on first run and stay with
// the kernel (cudnn_conv_plan.h). Bias
// and Relu (and FusedConv's Z) go into the convolution's cuDNN graph where an
// engine runs it; otherwise Z is accumulated by the convolution itself (beta
// = 1, so Y may share Z's buffer) and bias and the fused activation run after
// as one elementwise pass (cublaslt_epilogue.h). The Conv/FusedConv
// candidates for few input channels are registered here too, beside the
// engines they compete with: cuDNN over rewritten operands
// (cudnn_conv_reform.h) and kiln's direct_mma (conv_direct.h), which also
// runs FusedConvPool; FusedConvPair's stages on cuDNN beside kiln's
// mma_pair (conv_pair.h); stem_mma (conv_stem.h).
#include <cstdint>
#include <memory>
#include <tuple>

#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/conv_direct.h"
#include "backends/cuda/kernels/conv_pair.h"
#include "backends/cuda/kernels/conv_stem.h"
#include "backends/cuda/kernels/cublaslt_epilogue.h"
#include "backends/cuda/kernels/cudnn_conv_plan.h"
#include "backends/cuda/kernels/cudnn_conv_reform.h"
#include "backends/nn_params.h"
#include "core/env.h"
#include "ir/ops/fused_attrs.h"
#include "ir/ops/nn_attrs.h"

namespace kiln::backend::cuda {

namespace {

cudnnDataType_t cudnn_type(const KernelContext& ctx, DataType dt) {
  switch (dt) {
    case DataType::Float32: return CUDNN_DATA_FLOAT;
    case DataType::Float16: return CUDNN_DATA_HALF;
    case DataType::BFloat16: return CUDNN_DATA_BFLOAT16;
    default: unsupported(ctx, dt);
  }
}

int64_t align16(const void* p) { return pointer_alignment(p, 16); }

// Full dims of rank 4/5 from an ONNX shape with 1-3 spatial axes (1-D as
// 2-D with H = 1).
std::vector<int64_t> expand_1d(const Shape& s) {
  if (s.size() != 3) return std::vector<int64_t>(s.begin(), s.end());
  return {s[0], s[1], 1, s[2]};
}
// Per-spatial-axis values, with the H = 1 axis of a 1-D convolution first.
std::vector<int64_t> axis_values(const std::vector<int64_t>& v, int64_t h_value) {
  if (v.size() != 1) return v;
  return {h_value, v[0]};
}

void check_same_dtype(const KernelContext& ctx, DataType dt, size_t i, const char* what) {
  if (ctx.has_input(i) && ctx.input(i).dtype() != dt) ctx.fail(std::string(what) + " must have the dtype of X");
}

const Tensor* bias_input(const KernelContext& ctx, size_t i, int64_t m) {
  if (!ctx.has_input(i)) return nullptr;
  const Tensor& b = ctx.input(i);
  if (b.rank() != 1 || b.shape()[0] != m)
    ctx.fail("bias B " + shape_str(b.shape()) + " must have shape [" + std::to_string(m) + "]");
  return &b;
}

// Conv geometry on concrete shapes, checked as the CPU kernel checks it.
struct Forward {
  ConvProblem problem;
  Shape y_shape;
  int64_t m = 0;
};

// Channels-last flags of a Conv/FusedConv (passes/assign_cuda_layouts.cpp).
struct Layouts {
  bool x = false, y = false, w = false;
};

Layouts read_layouts(const ir::Node& n) {
  Layouts l;
  const std::vector<int64_t> in = n.attr_ints("kiln_in_layouts");
  l.x = !in.empty() && in[0] == 1;
  l.y = n.attr_i("kiln_out_layout", 0) == 1;
  l.w = n.attr_i("kiln_w_layout", 0) == 1;
  return l;
}

Forward forward_geometry(const KernelContext& ctx, const ir::Node& node, const Shape& xs, const Shape& ws,
                         DataType dt, const Layouts& layouts = {}) {
  if (xs.size() < 3 || xs.size() > 5) ctx.fail("X must have rank 3..5 (N, C, 1-3 spatial axes) on cuda, got " + shape_str(xs));
  const params::ConvGeometry g = params::conv_geometry(ctx, node, xs, ws);
  const size_t nd = xs.size() - 2;
  const ir::Window& w = g.w;
  Forward f;
  f.m = g.m;
  f.y_shape = g.y_shape;
  ConvProblem& p = f.problem;
  p.data_type = cudnn_type(ctx, dt);
  p.x_dims = expand_1d(xs);
  p.x_strides = packed_strides(p.x_dims);
  p.w_dims = expand_1d(ws);
  p.y_dims = expand_1d(f.y_shape);
  p.y_strides = packed_strides(p.y_dims);
  if (layouts.x || layouts.y || layouts.w) {
    if (xs.size() != 4) ctx.fail("channels-last layouts need a 2-D convolution, X is " + shape_str(xs));
    if (layouts.x) p.x_strides = nhwc_strides(p.x_dims);
    if (layouts.y) p.y_strides = nhwc_strides(p.y_dims);
    if (layouts.w) p.w_strides = nhwc_strides(p.w_dims);
  }
  p.pre_pads = axis_values(std::vector<int64_t>(w.pads.begin(), w.pads.begin() + static_cast<ptrdiff_t>(nd)), 0);
  p.post_pads = axis_values(std::vector<int64_t>(w.pads.begin() + static_cast<ptrdiff_t>(nd), w.pads.end()), 0);
  p.strides = axis_values(w.strides, 1);
  p.dilations = axis_values(w.dilations, 1);
  return f;
}

int64_t spatial_size(const Shape& s) {
  int64_t n = 1;
  for (size_t i = 2; i < s.size(); ++i) n *= s[i];
  return n;
}

// `p` for these pointers: the candidate's engine and the alignments plans assume.
void bind(ConvProblem& p, int pick, const void* x, const void* w, const void* y) {
  p.pick = pick;
  p.align_x = align16(x);
  p.align_w = align16(w);
  p.align_y = align16(y);
}

// The plan of a forward problem for these pointers, or nullptr when the
// convolution has no products (C = 0): then y is bias (+ y) only.
const ConvPlan* forward_plan(KernelContext& ctx, ConvPlanCache& cache, int pick, Forward& f, const void* x,
                             const void* w, const void* y, bool has_products, bool accumulate) {
  if (!has_products) return nullptr;
  ConvProblem& p = f.problem;
  p.accumulate = accumulate;
  bind(p, pick, x, w, y);
  return &cache.get(p, ctx.node());
}

// y = act(conv(x, w) + bias [+ y when accumulating]); `workspace` holds the
// plan's scratch.
void execute_forward(KernelContext& ctx, const ConvPlan* plan, const Forward& f, DataType dt, const void* x,
                     const void* w, void* y, const void* bias, bool accumulate, const ir::FusedActivation& act,
                     void* workspace, bool y_nhwc = false) {
  CudaStream& s = cuda_stream(ctx);
  const int64_t y_numel = shape_numel(f.y_shape);
  if (plan) execute_conv(s.cudnn(), *plan, x, w, y, workspace);
  else if (!accumulate) KILN_CUDA(cudaMemsetAsync(y, 0, static_cast<size_t>(y_numel) * dtype_size(dt), s.get()));
  // The channel of element i: (i / HW) % C in NCHW, i % C in NHWC.
  bias_activation(ctx, dt, y, bias, y_numel, y_nhwc ? 1 : spatial_size(f.y_shape), f.m, act);
}

// Plans of operands in the workspace (scratch_bytes: whole 256-byte blocks)
// are looked up with this stand-in address (alignment 16) until the
// workspace, sized by the plan, is taken.
const void* const k_scratch = reinterpret_cast<const void*>(uintptr_t{256});

void* plan_workspace(KernelContext& ctx, const ConvPlan* plan) {
  return plan && plan->workspace ? cuda_stream(ctx).workspace(static_cast<size_t>(plan->workspace)) : nullptr;
}

class ConvKernel final : public Kernel {
 public:
  ConvKernel(const ir::Node& node, int pick, Reform reform = Reform::None)
      : m_fused(node.domain == "com.kiln"), m_pick(pick), m_reform(reform), m_layouts(read_layouts(node)) {
    if (m_fused) m_act = ir::read_activation(node);
  }

  void run(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    const DataType dt = x.dtype();
    check_same_dtype(ctx, dt, 1, "W");
    check_same_dtype(ctx, dt, 2, "B");
    if (m_fused) check_same_dtype(ctx, dt, 3, "Z");
    Forward f = forward_geometry(ctx, ctx.node(), x.shape(), w.shape(), dt, m_layouts);
    const Tensor* b = bias_input(ctx, 2, f.m);
    const Tensor* z = m_fused ? ctx.optional_input(3) : nullptr;
    if (z && z->shape() != f.y_shape)
      ctx.fail("added input " + shape_str(z->shape()) + " does not fit the output " + shape_str(f.y_shape));
    Tensor& y = ctx.output(0, dt, f.y_shape);
    if (!y.numel()) return;
    const bool products = x.numel() > 0 && w.numel() > 0;
    // A reformed candidate (cudnn_c8, cudnn_s2d) convolves copies of X and W
    // in the workspace, looked up at an aligned stand-in address until the
    // plan, and so the workspace's size, is known.
    const bool reformed = m_reform != Reform::None && products;
    const Reformed rf = reformed ? reform_problem(ctx, m_reform, f.problem) : Reformed{};
    const void* xr = reformed ? k_scratch : x.raw();
    const void* wr = reformed ? k_scratch : w.raw();
    const size_t copies = rf.x_bytes + rf.w_bytes;
    // The plan's scratch after the copies, which are written now.
    const auto scratch = [&](const ConvPlan* plan) -> void* {
      const size_t plan_ws = plan ? static_cast<size_t>(plan->workspace) : 0;
      if (!reformed) return plan_workspace(ctx, plan);
      char* base = static_cast<char*>(cuda_stream(ctx).workspace(copies + plan_ws));
      reform_operands(ctx, rf, x, m_layouts.x, w, m_layouts.w, base, base + rf.x_bytes);
      xr = base;
      wr = base + rf.x_bytes;
      return plan_ws ? base + copies : nullptr;
    };
    // Z, bias and Relu inside the convolution when an engine runs the fused
    // graph (remembered per problem); else the epilogue after. A bias off
    // 16-byte alignment stays outside.
    const bool relu = m_act.kind == ir::Activation::Relu;
    if (cudnn_fusion_enabled() && products && (z || b || relu) && (relu || m_act.kind == ir::Activation::None) &&
        (!b || align16(b->raw()) >= 16)) {
      ConvProblem fp = f.problem;
      fp.fuse_add = z != nullptr;
      fp.fuse_bias = b != nullptr;
      fp.fuse_relu = relu;
      bind(fp, m_pick, xr, wr, y.raw());
      if (z) fp.align_z = align16(z->raw());
      if (const ConvPlan* fused = m_cache.try_get(fp)) {
        void* ws_ptr = scratch(fused);
        execute_conv(cuda_stream(ctx).cudnn(), *fused, xr, wr, y.raw(), ws_ptr, b ? b->raw() : nullptr,
                     z ? z->raw() : nullptr);
        return;
      }
    }
    // Z is accumulated by the convolution (beta = 1): copied into Y first
    // unless the memory plan put Y over Z already.
    if (z && z->raw() != y.raw())
      KILN_CUDA(cudaMemcpyAsync(y.raw(), z->raw(), y.nbytes(), cudaMemcpyDeviceToDevice, cuda_stream(ctx).get()));
    const ConvPlan* plan = forward_plan(ctx, m_cache, m_pick, f, xr, wr, y.raw(), products, z != nullptr);
    void* ws_ptr = products ? scratch(plan) : nullptr;
    execute_forward(ctx, plan, f, dt, xr, wr, y.raw(), b ? b->raw() : nullptr, z != nullptr, m_act, ws_ptr,
                    m_layouts.y);
  }

 private:
  bool m_fused;
  int m_pick;
  Reform m_reform;  // cudnn_c8, cudnn_s2d
  Layouts m_layouts;  // Z shares Y's layout (the pass joins them), so Y's copy of Z is a plain copy
  ir::FusedActivation m_act;
  ConvPlanCache m_cache;
};

// FusedConvDw: its two FusedConv stages (ir::conv_dw_stages), the expanded
// tensor between them in the workspace, taken once with both plans' scratch
// (the workspace is pool memory, 256-byte aligned, so the plans assume 16).
class ConvDwKernel final : public Kernel {
 public:
  ConvDwKernel(const ir::Node& node, const ir::Graph& graph) {
    std::tie(m_stage1, m_stage2) = ir::conv_dw_stages(node, graph);
    m_act1 = ir::read_activation(m_stage1);
    m_act2 = ir::read_activation(m_stage2);
  }

  void run(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const Tensor& w1 = ctx.input(1);
    const Tensor& w2 = ctx.input(3);
    const DataType dt = x.dtype();
    for (size_t i = 1; i < 5; ++i) check_same_dtype(ctx, dt, i, "every input");
    if (x.rank() != 4) ctx.fail("input " + shape_str(x.shape()) + " is not 4-D");
    Forward f1 = forward_geometry(ctx, m_stage1, x.shape(), w1.shape(), dt);
    Forward f2 = forward_geometry(ctx, m_stage2, f1.y_shape, w2.shape(), dt);
    const Tensor* b1 = bias_input(ctx, 2, f1.m);
    const Tensor* b2 = bias_input(ctx, 4, f2.m);
    Tensor& y = ctx.output(0, dt, f2.y_shape);
    if (!y.numel()) return;
    const size_t mid_elems = static_cast<size_t>(shape_numel(f1.y_shape));
    const size_t mid_bytes = scratch_bytes(mid_elems * dtype_size(dt));
    const bool products1 = x.numel() > 0 && w1.numel() > 0, products2 = mid_elems > 0 && w2.numel() > 0;
    const ConvPlan* p1 = forward_plan(ctx, m_cache, 0, f1, x.raw(), w1.raw(), k_scratch, products1, false);
    const ConvPlan* p2 = forward_plan(ctx, m_cache, 0, f2, k_scratch, w2.raw(), y.raw(), products2, false);
    const int64_t ws = std::max(p1 ? p1->workspace : 0, p2 ? p2->workspace : 0);
    char* base = static_cast<char*>(cuda_stream(ctx).workspace(mid_bytes + static_cast<size_t>(ws)));
    if (align16(base) < 16) ctx.fail("internal: the workspace is not 16-byte aligned");
    void* conv_ws = ws ? base + mid_bytes : nullptr;
    execute_forward(ctx, p1, f1, dt, x.raw(), w1.raw(), base, b1 ? b1->raw() : nullptr, false, m_act1, conv_ws);
    execute_forward(ctx, p2, f2, dt, base, w2.raw(), y.raw(), b2 ? b2->raw() : nullptr, false, m_act2, conv_ws);
  }

 private:
  ir::Node m_stage1, m_stage2;
  ir::FusedActivation m_act1, m_act2;
  ConvPlanCache m_cache;
};

// A packed [dims] block written into a strided region of Y.
struct Region {
  int rank = 0;
  int64_t dims[5] = {}, strides[5] = {};
};

template <typename E>
__global__ void scatter_region_kernel(E* y, const E* src, Region r, int64_t n) {
  KILN_GRID_STRIDE(i, n) {
    int64_t rem = i, off = 0;
    for (int d = r.rank - 1; d >= 0; --d) {
      off += (rem % r.dims[d]) * r.strides[d];
      rem /= r.dims[d];
    }
    y[off] = src[i];
  }
}

// ConvTranspose as the backward-data convolution of the forward one it
// inverts: dy = X [N, C, in...], w = W [C, M/group, k...] as is, dx = the
// region of Y the kernel taps reach. Pads come from the CPU's geometry
// (ir::transpose_out_dim); where they are negative (an output_shape past the
// natural size) or output_padding leaves rows no tap reaches, dx is that
// region of a zeroed Y (computed packed, then copied in), and only the bias
// lands outside it.
class ConvTransposeKernel final : public Kernel {
 public:
  explicit ConvTransposeKernel(int pick) : m_pick(pick) {}

  void run(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    const DataType dt = x.dtype();
    check_same_dtype(ctx, dt, 1, "W");
    check_same_dtype(ctx, dt, 2, "B");
    const Shape& xs = x.shape();
    const Shape& ws = w.shape();
    if (xs.size() < 3 || xs.size() > 5) ctx.fail("X must have rank 3..5 (N, C, 1-3 spatial axes) on cuda, got " + shape_str(xs));
    const params::ConvGeometry g = params::conv_transpose_geometry(ctx, ctx.node(), xs, ws);
    const int64_t m = g.m;
    const size_t nd = xs.size() - 2;
    const ir::Window& win = g.w;
    const Shape& y_shape = g.y_shape;
    const Tensor* b = bias_input(ctx, 2, m);
    Tensor& y = ctx.output(0, dt, y_shape);
    if (!y.numel()) return;

    ConvProblem p;
    p.backward_data = true;
    p.data_type = cudnn_type(ctx, dt);
    p.pick = m_pick;
    p.x_dims = expand_1d(xs);
    p.x_strides = packed_strides(p.x_dims);
    p.w_dims = expand_1d(ws);
    p.y_dims = expand_1d(y_shape);
    p.y_strides = packed_strides(p.y_dims);
    const size_t first = p.y_dims.size() - nd;  // the first spatial dim that is ONNX's
    bool reached = x.numel() > 0 && w.numel() > 0, covers = true;
    int64_t offset = 0;
    std::vector<int64_t> pre, post;
    for (size_t i = 0; i < nd && reached; ++i) {
      const int64_t s = win.strides[i], ext = win.extent(i), pb = win.pads[i], in = xs[i + 2], out = y_shape[i + 2];
      // Y positions the taps reach: [-pb, (in - 1) * s - pb + ext) within [0, out).
      const int64_t lo = std::max<int64_t>(0, -pb), hi = std::min<int64_t>(out, (in - 1) * s - pb + ext);
      const int64_t len = hi - lo;
      if (len <= 0) {
        reached = false;
        break;
      }
      // Pads of the forward convolution over the region that gives back
      // exactly `in` outputs: floor((len + pre + post - ext) / s) + 1 = in.
      pre.push_back(pb + lo);
      post.push_back(s * (in - 1) + ext - len - (pb + lo));
      p.y_dims[first + i] = len;
      offset += lo * p.y_strides[first + i];
      covers = covers && lo == 0 && hi == out;
    }
    CudaStream& st = cuda_stream(ctx);
    if (!reached || !covers) KILN_CUDA(cudaMemsetAsync(y.raw(), 0, y.nbytes(), st.get()));
    if (reached) {
      p.pre_pads = axis_values(pre, 0);
      p.post_pads = axis_values(post, 0);
      // Asymmetric pads: on an H100 (cuDNN 9.19) some backward-data engines
      // past the heuristics' first two shift such outputs by one element
      // (test_backend_ops, "ConvTranspose f32 no stride asymmetric pads"), so
      // every candidate takes the first engine.
      if (p.pre_pads != p.post_pads) p.pick = 0;
      p.strides = axis_values(win.strides, 1);
      p.dilations = axis_values(win.dilations, 1);
      // A region short of Y is computed packed in the workspace and copied
      // into place: backward-data engines are not asked for strided outputs.
      const std::vector<int64_t> y_strides = p.y_strides;
      if (!covers) p.y_strides = packed_strides(p.y_dims);
      const int64_t region_numel = shape_numel(Shape(p.y_dims.begin(), p.y_dims.end()));
      const size_t region_bytes = covers ? 0 : scratch_bytes(static_cast<size_t>(region_numel) * dtype_size(dt));
      p.align_x = align16(x.raw());
      p.align_w = align16(w.raw());
      p.align_y = covers ? align16(y.raw()) : 16;
      const ConvPlan& plan = m_cache.get(p, ctx.node());
      const size_t bytes = region_bytes + static_cast<size_t>(plan.workspace);
      char* scratch = bytes ? static_cast<char*>(st.workspace(bytes)) : nullptr;
      void* out = covers ? y.raw() : scratch;
      execute_conv(st.cudnn(), plan, x.raw(), w.raw(), out, plan.workspace ? scratch + region_bytes : nullptr);
      if (!covers) {
        Region r;
        r.rank = static_cast<int>(p.y_dims.size());
        for (int i = 0; i < r.rank; ++i) {
          r.dims[i] = p.y_dims[static_cast<size_t>(i)];
          r.strides[i] = y_strides[static_cast<size_t>(i)];
        }
        dispatch_bytes(dtype_size(dt), ctx, [&](auto tag) {
          using E = decltype(tag);
          scatter_region_kernel<E><<<grid_for(region_numel), k_threads, 0, st.get()>>>(
              static_cast<E*>(y.raw()) + offset, static_cast<const E*>(out), r, region_numel);
          KILN_CUDA_LAUNCH("scatter_region_kernel");
        });
      }
    }
    bias_activation(ctx, dt, y.raw(), b ? b->raw() : nullptr, y.numel(), spatial_size(y_shape), m, {});
  }

 private:
  int m_pick;
  ConvPlanCache m_cache;
};

// FusedConvPair as its two cuDNN stages (ir::conv_pair_stages): the Z
// convolution into Y, then the main one adding Y into itself (Z in place,
// as the memory planner puts a FusedConv's Y over its Z). Timed against
// mma_pair where that takes the node's form; the only kernel elsewhere.
class ConvPairKernel final : public Kernel {
 public:
  ConvPairKernel(const ir::Node& node, int pick) {
    std::tie(m_z_node, m_main_node) = ir::conv_pair_stages(node);
    m_z = std::make_unique<ConvKernel>(m_z_node, pick);
    m_main = std::make_unique<ConvKernel>(m_main_node, pick);
  }

  void run(KernelContext& ctx) override {
    Tensor y;
    std::vector<Tensor> z_out(1), out(1);
    KernelContext z(m_z_node, 1, {&ctx.input(3), &ctx.input(4), ctx.optional_input(5)}, z_out,
                    [&](size_t, DataType dt, const Shape& s) { return y = ctx.output(0, dt, s); }, ctx.stream());
    m_z->run(z);
    KernelContext main(m_main_node, 1,
                       {&ctx.input(0), &ctx.input(1), ctx.optional_input(2), &z_out[0]}, out,
                       [&](size_t, DataType dt, const Shape& s) {
                         if (dt != y.dtype() || s != y.shape())
                           ctx.fail("the two convolutions' outputs differ: " + shape_str(s) + " and " +
                                    shape_str(y.shape()) + " (X2's)");
                         return y;
                       },
                       ctx.stream());
    m_main->run(main);
  }

 private:
  ir::Node m_z_node, m_main_node;
  std::unique_ptr<ConvKernel> m_z, m_main;
};

// What the factories can check without shapes: float dtypes cuDNN takes,
// 1-3 spatial axes, channels-last only where `nhwc_ok` (2-D Conv/FusedConv,
// marked by passes/assign_cuda_layouts.cpp).
void check_node(const ir::Node& n, const ir::Graph& g, size_t min_rank, size_t max_rank, bool nhwc_ok = false) {
  if (!n.has_input(0) || !n.has_input(1))
    throw Error(ErrorCode::InvalidModel, n.label() + ": X and W are required");
  for (size_t i = 0; i < n.inputs.size(); ++i)
    if (!dtype_in(g, n.inputs[i], {DataType::Float32, DataType::Float16, DataType::BFloat16}))
      throw Error(ErrorCode::Unsupported, n.label() + ": dtype " + std::string(dtype_name(g.value(n.inputs[i]).dtype)) +
                                              " is not supported by the cuDNN kernels (f32, f16, bf16)");
  const auto& s = g.value(n.inputs[0]).shape;
  if (s && (s->size() < min_rank || s->size() > max_rank))
    throw Error(ErrorCode::Unsupported, n.label() + ": X of rank " + std::to_string(s->size()) +
                                            " (cuDNN kernels take 1-3 spatial axes)");
  const std::vector<int64_t> in_layouts = n.attr_ints("kiln_in_layouts");
  const bool nhwc = n.attr_i("kiln_out_layout", 0) != 0 || n.attr_i("kiln_w_layout", 0) != 0 ||
                    std::any_of(in_layouts.begin(), in_layouts.end(), [](int64_t l) { return l != 0; });
  if (nhwc && !(nhwc_ok && s && s->size() == 4))
    throw Error(ErrorCode::Unsupported, n.label() + ": channels-last layouts only for 2-D Conv/FusedConv on cuda");
}

// Candidates for 16-bit convolutions over few input channels, which cuDNN
// runs slowly as they are: the rewrites of cudnn_conv_reform.h and kiln's own
// direct_mma (conv_direct.h). Each has a switch: =1 makes it the only
// candidate where it applies (tests, measuring), =0 removes it.
struct FewChannels {
  const char* name;
  const char* env;
  Reform reform;  // None: direct_mma
  int pick;
};
constexpr FewChannels k_few_channels[] = {
    {"direct_mma", "KILN_CONV_DIRECT", Reform::None, 0},
    {"cudnn_s2d_alt", "KILN_CUDNN_SPACE_TO_DEPTH", Reform::SpaceToDepth, 1},
    {"cudnn_s2d", "KILN_CUDNN_SPACE_TO_DEPTH", Reform::SpaceToDepth, 0},
    {"cudnn_c8", "KILN_CUDNN_PAD_CHANNELS", Reform::PadChannels, 0},
};

bool few_applies(const FewChannels& f, const ir::Node& n, const ir::Graph& g) {
  return f.reform == Reform::None ? direct_conv_applies(n, g) : reform_applies(f.reform, n, g);
}

// The switch forced to 1 that applies to `n`, if any.
const char* forced_few(const ir::Node& n, const ir::Graph& g) {
  for (const FewChannels& f : k_few_channels)
    if (env_switch(f.env) == true && few_applies(f, n, g)) return f.env;
  return nullptr;
}

}  // namespace

void register_cuda_conv(KernelRegistry& r) {
  // First, so that none is the default of an untimed node.
  for (const FewChannels& f : k_few_channels)
    for (const char* op : {"Conv", "FusedConv"})
      r.add(op, [&f](const ir::Node& n, const ir::Graph& g) -> std::unique_ptr<Kernel> {
        check_node(n, g, 4, 4, true);
        const char* forced = forced_few(n, g);
        if (!few_applies(f, n, g) || !env_flag(f.env, true) || (forced && std::string(forced) != f.env))
          throw Error(ErrorCode::Unsupported, n.label() + ": " + f.name + " does not apply (or " + f.env + ")");
        if (f.reform == Reform::None) return make_direct_conv(n);
        return std::make_unique<ConvKernel>(n, f.pick, f.reform);
      }, f.name);
  // Four engines to time per convolution (the heuristics' first four
  // distinct ones that finalize), the default last: the builder keeps the fastest.
  for (const int pick : {3, 2, 1, 0}) {
    const std::string name = pick == 0 ? "cudnn" : pick == 1 ? "cudnn_alt" : "cudnn_alt" + std::to_string(pick);
    for (const char* op : {"Conv", "FusedConv"})
      r.add(op, [pick](const ir::Node& n, const ir::Graph& g) -> std::unique_ptr<Kernel> {
        check_node(n, g, 3, 5, true);
        if (const char* forced = forced_few(n, g))
          throw Error(ErrorCode::Unsupported, n.label() + ": " + forced + "=1 leaves it to that candidate");
        return std::make_unique<ConvKernel>(n, pick);
      }, name);
    r.add("ConvTranspose", [pick](const ir::Node& n, const ir::Graph& g) -> std::unique_ptr<Kernel> {
      check_node(n, g, 3, 5);
      return std::make_unique<ConvTransposeKernel>(pick);
    }, name);
  }
  // FusedConvPool (passes/fuse_conv_pool.cpp makes it only where direct_mma
  // takes it): direct_mma, registered last (the default), and stem_mma
  // where its one form applies (a ResNet stem over the graph's image), timed
  // against it (KILN_CONV_STEM=0: direct_mma alone, =1: stem_mma alone where
  // it applies). KILN_CONV_DIRECT=0 or
  // KILN_CONV_POOL=0 leaves the convolution and the pool apart.
  r.add("FusedConvPool", [](const ir::Node& n, const ir::Graph& g) -> std::unique_ptr<Kernel> {
    check_node(n, g, 4, 4, true);
    if (!env_flag("KILN_CONV_STEM", true) || !stem_conv_applies(n, g) || !env_flag("KILN_CONV_DIRECT", true) ||
        !env_flag("KILN_CONV_POOL", true))
      throw Error(ErrorCode::Unsupported, n.label() + ": stem_mma does not take it (or KILN_CONV_STEM=0)");
    return make_stem_conv(n);
  }, "stem_mma");
  r.add("FusedConvPool", [](const ir::Node& n, const ir::Graph& g) -> std::unique_ptr<Kernel> {
    check_node(n, g, 4, 4, true);
    if (!direct_conv_applies(n, g) || !env_flag("KILN_CONV_DIRECT", true) || !env_flag("KILN_CONV_POOL", true))
      throw Error(ErrorCode::Unsupported,
                  n.label() + ": direct_mma does not take it (or KILN_CONV_DIRECT=0, KILN_CONV_POOL=0)");
    if (env_switch("KILN_CONV_STEM") == true && stem_conv_applies(n, g))
      throw Error(ErrorCode::Unsupported, n.label() + ": KILN_CONV_STEM=1 leaves it to stem_mma");
    return make_direct_conv(n);
  }, "direct_mma");
  // FusedConvPair (passes/fuse_conv_pair.cpp): kiln's mma_pair where its
  // form allows, and the two stages on cuDNN's engines, timed.
  // KILN_CONV_PAIR=0 refuses them all (no fusion), =1 leaves mma_pair alone
  // where it applies (the layouts it needs are assigned after the fusion).
  r.add("FusedConvPair", [](const ir::Node& n, const ir::Graph& g) -> std::unique_ptr<Kernel> {
    if (!env_flag("KILN_CONV_PAIR", true) || !pair_gemm_applies(n, g))
      throw Error(ErrorCode::Unsupported, n.label() + ": mma_pair does not take it (or KILN_CONV_PAIR=0)");
    return make_pair_gemm(n);
  }, "mma_pair");
  // Two cuDNN picks: the third and fourth engines were never faster in
  // ResNet-50 and took up to 170 ms a timing run at batch 256.
  for (const int pick : {1, 0}) {
    const std::string name = pick == 0 ? "cudnn_pair" : "cudnn_pair_alt";
    r.add("FusedConvPair", [pick](const ir::Node& n, const ir::Graph& g) -> std::unique_ptr<Kernel> {
      check_node(n, g, 4, 4, true);
      const std::optional<bool> only = env_switch("KILN_CONV_PAIR");
      if (only == false || (only == true && pair_gemm_applies(n, g)))
        throw Error(ErrorCode::Unsupported, n.label() + ": KILN_CONV_PAIR=0, or =1 where mma_pair takes it");
      return std::make_unique<ConvPairKernel>(n, pick);
    }, name);
  }
  r.add("FusedConvDw", [](const ir::Node& n, const ir::Graph& g) -> std::unique_ptr<Kernel> {
    check_node(n, g, 4, 4);
    return std::make_unique<ConvDwKernel>(n, g);
  }, "cudnn");
}

}  // namespace kiln::backend::cuda
