// oneDNN convolution for Conv and com.kiln::FusedConv, 1-3 spatial axes, f32.
// The primitive is made once per input shape, reading and writing activations
// in the layouts the layout pass chose (passes/assign_layouts.cpp; plain or
// channels last), with the weights in the layout oneDNN picks: constant
// weights are reordered once and kept. FusedConv's Z is added by a "sum"
// post-op: where the memory plan put Y over Z (in place) it is in the
// destination already, elsewhere it is copied (or reordered) there first.
// A 1x1 convolution of 1x1 images
// runs as a matmul. oneDNN's own reference implementations are never used:
// kiln's reference kernel runs whatever has no JIT implementation.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "backends/cpu/dnnl/context.h"
#include "backends/cpu/dnnl/dnnl_kernel.h"
#include "backends/cpu/dnnl/kernels.h"
#include "backends/cpu/dnnl/post_ops.h"
#include "core/env.h"
#include "ir/ops/nn_attrs.h"
#include "kiln/error.h"

namespace kiln::backend::onednn {

namespace {

using dnnl::memory;
using tag = memory::format_tag;

struct ConvGeometry {
  int64_t group = 1;
  memory::dims strides, dilations, pad_l, pad_r;
  Shape y_shape;
};

// The reference kernel's geometry (nn_attrs.h), or nullopt for what the
// reference kernel would reject (it then reports the error).
std::optional<ConvGeometry> geometry(const ir::Node& node, const Shape& x, const Shape& w) {
  const size_t nd = x.size() - 2;
  ConvGeometry g;
  g.group = node.attr_i("group", 1);
  const int64_t c = x[1], m = w[0];
  if (g.group < 1 || c % g.group != 0 || m % g.group != 0 || w[1] * g.group != c) return std::nullopt;
  std::vector<int64_t> kernel(w.begin() + 2, w.end());
  ir::Window win = ir::read_window(node, nd, kernel, false);
  g.y_shape = {x[0], m};
  for (size_t i = 0; i < nd; ++i) g.y_shape.push_back(ir::window_out_dim(node, win, i, x[i + 2]));
  for (size_t i = 0; i < nd; ++i) {
    g.strides.push_back(win.strides[i]);
    g.dilations.push_back(win.dilations[i] - 1);
    g.pad_l.push_back(win.pads[i]);
    g.pad_r.push_back(win.pads[i + nd]);
    if (win.pads[i] < 0 || win.pads[i + nd] < 0) return std::nullopt;
  }
  return g;
}

// For a convolution between plain tensors (outside a channels-last chain):
// whether activations go to oneDNN in the layout it prefers, reordered in and
// out, rather than as plain NCHW. Measured: depthwise needs it (NCHW has only
// slow implementations); others are faster plain than with two reorders.
// KILN_DNNL_CONV_ANY=1/0 forces the choice, for measuring.
bool prefer_native_layout(const ConvGeometry& g, const Shape& x, const Shape& w) {
  if (const std::optional<bool> forced = env_switch("KILN_DNNL_CONV_ANY")) return *forced;
  const bool depthwise = g.group > 1 && g.group == x[1] && w[0] == g.group;
  return depthwise;
}

class ConvKernel final : public DnnlKernel {
 public:
  ConvKernel(const ir::Node& node, const ir::Graph& graph, const KernelFactory& reference)
      : DnnlKernel(node, graph, reference),
        m_const_w(input_is_constant(graph, node, 1)),
        m_strides(node.attr_ints("strides")) {
    if (node.domain == "com.kiln") m_act = ir::read_activation(node);
  }

  // The "onednn_subsample" candidate: see subsamples().
  void subsample_strided_pointwise() { m_subsample = true; }
  // The "onednn_alt" candidate: oneDNN's runner-up implementation.
  void use_runner_up() { m_runner_up = true; }

  void run(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    if (!shapes_ok(ctx)) return run_reference(ctx);
    CpuThreadScope threads(threads_for_work(conv_macs(x.shape(), w.shape(), m_strides), k_small_macs));
    if (!m_plan || m_plan->x_shape != x.shape() || m_plan->w_shape != w.shape()) {
      m_plan.reset();
      m_plan = make_plan(ctx);
    }
    if (!m_plan->ok) return run_reference(ctx);
    execute(ctx);
  }

 private:
  struct Plan {
    bool ok = false;
    Shape x_shape, w_shape, y_shape;
    dnnl::primitive prim;  // a convolution, or a matmul (pointwise_on_one_pixel)
    memory::desc x_md, y_md, z_md;   // in the kiln layouts of X, Y and Z
    memory::desc w_md;               // plain
    memory weights;                  // in the primitive's layout
    bool weights_ready = false;
    Shape sub_shape;                 // non-empty: X subsampled first (strided 1x1), see subsamples()
    std::vector<int64_t> sub_strides;
    Tensor sub;                      // the subsampled X, in X's layout
    std::optional<dnnl::reorder> w_reorder, src_reorder, z_reorder, dst_out_reorder;
    memory src_buf, dst_buf;         // when the primitive's layout is not plain
  };

  // A 2-D 1x1 convolution with strides and no padding or groups.
  static bool subsamples(const ConvGeometry& g, const Shape& x, const Shape& w) {
    if (x.size() != 4 || g.group != 1 || w[2] != 1 || w[3] != 1) return false;
    for (size_t i = 0; i < 2; ++i)
      if (g.pad_l[i] != 0 || g.pad_r[i] != 0 || g.dilations[i] != 0) return false;
    return g.strides[0] > 1 || g.strides[1] > 1;
  }

  // X's pixels at multiples of the strides, in X's layout (plain or channels
  // last), into the plan's buffer.
  const Tensor& gather_strided(const Tensor& x, Plan& p) const {
    if (!p.sub.defined()) p.sub = Tensor::empty(DataType::Float32, p.sub_shape);
    const int64_t n = p.sub_shape[0], c = p.sub_shape[1], oh = p.sub_shape[2], ow = p.sub_shape[3];
    const int64_t h = x.shape()[2], w = x.shape()[3], sh = p.sub_strides[0], sw = p.sub_strides[1];
    const float* src = x.data<float>();
    float* dst = p.sub.data<float>();
    if (in_layout(0) == 1) {  // N, H, W, C: whole pixels
#pragma omp parallel for collapse(2) if (n * oh * ow * c > (1 << 16))
      for (int64_t b = 0; b < n; ++b)
        for (int64_t i = 0; i < oh; ++i)
          for (int64_t j = 0; j < ow; ++j)
            std::memcpy(dst + ((b * oh + i) * ow + j) * c, src + ((b * h + i * sh) * w + j * sw) * c,
                        static_cast<size_t>(c) * sizeof(float));
    } else {
#pragma omp parallel for if (n * oh * ow * c > (1 << 16))
      for (int64_t bc = 0; bc < n * c; ++bc)
        for (int64_t i = 0; i < oh; ++i)
          for (int64_t j = 0; j < ow; ++j) dst[(bc * oh + i) * ow + j] = src[(bc * h + i * sh) * w + j * sw];
    }
    return p.sub;
  }

  bool shapes_ok(const KernelContext& ctx) const {
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    if (x.dtype() != DataType::Float32 || w.dtype() != DataType::Float32) return false;
    if (x.rank() < 3 || x.rank() > 5 || w.rank() != x.rank() || x.numel() == 0 || w.numel() == 0) return false;
    if (ctx.has_input(2)) {
      const Tensor& b = ctx.input(2);
      if (b.dtype() != DataType::Float32 || b.rank() != 1 || b.shape()[0] != w.shape()[0]) return false;
    }
    if (ctx.has_input(3) && ctx.input(3).dtype() != DataType::Float32) return false;
    return true;
  }

  std::unique_ptr<Plan> make_plan(const KernelContext& ctx) {
    auto p = std::make_unique<Plan>();
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    p->x_shape = x.shape();
    p->w_shape = w.shape();
    const auto geo = geometry(node(), x.shape(), w.shape());
    if (!geo) return p;
    p->y_shape = geo->y_shape;
    if (shape_numel(p->y_shape) == 0) return p;
    if (ctx.has_input(3) && ctx.input(3).shape() != p->y_shape) return p;

    const bool has_z = ctx.has_input(3);
    const bool one_pixel = pointwise_on_one_pixel(*geo, x.shape(), w.shape());
    ConvGeometry conv_geo = *geo;
    if (m_subsample && subsamples(*geo, x.shape(), w.shape())) {
      // A strided 1x1 convolution reads one pixel in s*s: gathering those
      // first makes it a unit-stride 1x1 convolution, which oneDNN runs up to
      // 1.3x faster, or a little slower, by shape: a candidate of its own.
      p->sub_shape = {x.shape()[0], x.shape()[1], geo->y_shape[2], geo->y_shape[3]};
      p->sub_strides = {geo->strides[0], geo->strides[1]};
      conv_geo.strides = {1, 1};
    }
    // Z is added before the activation, act(conv(X) + B + Z), by a "sum"
    // post-op: it accumulates into what the destination holds, Z. The same
    // primitive whether the memory plan put Y over Z or not (then Z is copied
    // in first), so kernel timing, where Y always has a buffer of its own,
    // ranks the candidates that will run. oneDNN's fastest 1x1 convolutions
    // take "sum" and not the "binary" post-op that would read Z in place.
    dnnl::post_ops po;
    if (has_z) po.append_sum(1.f);
    if (!append_activation(po, m_act)) return p;
    dnnl::primitive_attr attr;
    attr.set_post_ops(po);
    const std::optional<Chosen> chosen =
        one_pixel ? choose_matmul(ctx, *p, attr) : choose_convolution(ctx, *p, conv_geo, attr);
    if (!chosen) return p;
    p->prim = chosen->prim;
    dnnl::engine& eng = cpu_engine();
    if (chosen->weights != p->w_md) {
      p->weights = memory(chosen->weights, eng);
      p->w_reorder = make_reorder(p->w_md, chosen->weights);
    }
    if (chosen->src != p->x_md) {
      p->src_buf = memory(chosen->src, eng);
      p->src_reorder = make_reorder(p->x_md, chosen->src);
    }
    if (chosen->dst != p->y_md) {
      p->dst_buf = memory(chosen->dst, eng);
      p->dst_out_reorder = make_reorder(chosen->dst, p->y_md);
    }
    if (has_z && chosen->dst != p->z_md) p->z_reorder = make_reorder(p->z_md, chosen->dst);
    p->ok = true;
    return p;
  }

  // A primitive and the layouts it wants.
  struct Chosen {
    dnnl::primitive prim;
    memory::desc src, weights, dst;
  };

  // A 1x1 convolution of 1x1 images (squeeze-excite blocks) is a matrix
  // product; oneDNN's matmul does it several times faster than its GEMM-based
  // convolution. Layouts do not matter: one pixel is the same in every layout.
  static bool pointwise_on_one_pixel(const ConvGeometry& g, const Shape& x, const Shape& w) {
    if (g.group != 1) return false;
    for (size_t i = 2; i < x.size(); ++i)
      if (x[i] != 1 || w[i] != 1) return false;
    for (size_t i = 0; i < g.pad_l.size(); ++i)
      if (g.pad_l[i] != 0 || g.pad_r[i] != 0) return false;
    return true;
  }

  std::optional<Chosen> choose_matmul(const KernelContext& ctx, Plan& p, const dnnl::primitive_attr& attr) {
    const int64_t n = p.x_shape[0], c = p.x_shape[1], m = p.w_shape[0];
    p.x_md = memory::desc({n, c}, memory::data_type::f32, tag::ab);
    p.y_md = memory::desc({n, m}, memory::data_type::f32, tag::ab);
    p.z_md = p.y_md;
    p.w_md = memory::desc({c, m}, memory::data_type::f32, memory::dims{1, c});  // W [M, C] read transposed
    m_bias_md = memory::desc({1, m}, memory::data_type::f32, tag::ab);
    try {
      const memory::desc w_any({c, m}, memory::data_type::f32, tag::any);
      dnnl::matmul::desc d = ctx.has_input(2) ? dnnl::matmul::desc(p.x_md, w_any, m_bias_md, p.y_md)
                                              : dnnl::matmul::desc(p.x_md, w_any, p.y_md);
      dnnl::matmul::primitive_desc pd(d, attr, cpu_engine());
      if (!skip_reference_impls(pd)) return std::nullopt;
      return Chosen{dnnl::matmul(pd), pd.src_desc(), pd.weights_desc(), pd.dst_desc()};
    } catch (const dnnl::error&) {
      return std::nullopt;
    }
  }

  std::optional<Chosen> choose_convolution(const KernelContext& ctx, Plan& p, const ConvGeometry& geo,
                                           const dnnl::primitive_attr& attr) {
    const size_t rank = p.x_shape.size();
    const Shape& src_shape = p.sub_shape.empty() ? p.x_shape : p.sub_shape;
    p.x_md = layout_f32(src_shape, in_layout(0));
    p.y_md = layout_f32(p.y_shape, out_layout());
    if (ctx.has_input(3)) p.z_md = layout_f32(p.y_shape, in_layout(3));
    memory::dims wd = to_dims(p.w_shape);
    if (geo.group > 1) {
      wd[0] /= geo.group;
      wd.insert(wd.begin(), geo.group);
      p.w_md = memory::desc(wd, memory::data_type::f32, plain_tag(rank + 1));
    } else {
      p.w_md = plain_f32(p.w_shape);
    }
    m_bias_md = memory::desc({p.w_shape[0]}, memory::data_type::f32, tag::a);
    const auto any = [](const memory::dims& d) { return memory::desc(d, memory::data_type::f32, tag::any); };
    // Activations as they are (plain or the channels-last layout the layout
    // pass chose), unless oneDNN is known to want its own layout here; then,
    // or when oneDNN has nothing for the given layouts, whatever it picks.
    std::vector<std::pair<memory::desc, memory::desc>> tries;
    const bool plain_io = in_layout(0) == 0 && out_layout() == 0;
    const memory::desc src_any = any(to_dims(src_shape)), dst_any = any(to_dims(p.y_shape));
    if (!(plain_io && prefer_native_layout(geo, p.x_shape, p.w_shape))) {
      tries.emplace_back(p.x_md, p.y_md);
      tries.emplace_back(p.x_md, dst_any);  // e.g. a 3-channel NCHW image into a channels-last chain
      tries.emplace_back(src_any, p.y_md);
    }
    tries.emplace_back(src_any, dst_any);
    for (const auto& [src_md, dst_md] : tries) {
      try {
        dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                          src_md, any(wd), ctx.has_input(2) ? m_bias_md : memory::desc(), dst_md,
                                          geo.strides, geo.dilations, geo.pad_l, geo.pad_r);
        dnnl::convolution_forward::primitive_desc pd(d, attr, cpu_engine());
        if (!skip_reference_impls(pd)) continue;
        if (std::string(pd.impl_info_str()).rfind("brdgmm_dw", 0) == 0) {
          // Measured on AVX-512 (MobileNet shapes, 1-2 threads): oneDNN's
          // direct depthwise kernel beats the brgemm one it lists first by
          // 10-40%.
          dnnl::convolution_forward::primitive_desc alt(d, attr, cpu_engine());
          while (alt.next_impl()) {
            if (std::string(alt.impl_info_str()).rfind("jit_dw:avx512", 0) == 0) {
              pd = alt;
              break;
            }
          }
        }
        if (m_runner_up) {
          // The "onednn_alt" candidate: the first other JIT implementation
          // oneDNN lists for the case. Its order is a heuristic; timing both
          // finds, e.g., a 1x1 convolution to 16 channels 1.4x faster.
          const std::string first = pd.impl_info_str();
          dnnl::convolution_forward::primitive_desc other(d, attr, cpu_engine());
          bool found = false;
          do {
            const std::string name = other.impl_info_str();
            found = name.rfind("ref", 0) != 0 && name != first;
          } while (!found && other.next_impl());
          if (found) pd = other;  // else the same as "onednn": never a failure at run time
        }
        return Chosen{dnnl::convolution_forward(pd), pd.src_desc(), pd.weights_desc(), pd.dst_desc()};
      } catch (const dnnl::error&) {
        // next candidate; none left: the reference kernel runs this case
      }
    }
    return std::nullopt;
  }

  void execute(KernelContext& ctx) {
    Plan& p = *m_plan;
    dnnl::stream& s = cpu_stream();
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    Tensor& y = ctx.output(0, DataType::Float32, p.y_shape);
    // Z may share Y's buffer (memory plan, in place).
    Tensor z_copy;
    const Tensor* z = ctx.optional_input(3);
    const bool aliased = z && z->raw() == y.raw();
    memory w_mem = wrap(p.w_md, w);
    if (p.w_reorder) {
      if (!p.weights_ready) p.w_reorder->execute(s, w_mem, p.weights);
      p.weights_ready = m_const_w;
      w_mem = p.weights;
    }
    memory src = wrap(p.x_md, p.sub_shape.empty() ? x : gather_strided(x, p));
    if (p.src_reorder) {
      p.src_reorder->execute(s, src, p.src_buf);
      src = p.src_buf;
    }
    memory y_mem = wrap(p.y_md, y);
    memory dst = p.dst_buf ? p.dst_buf : y_mem;
    if (z) {
      // The sum post-op accumulates into what dst holds: Z, in dst's layout.
      if (p.z_reorder) {
        if (aliased && !p.dst_buf) z = &(z_copy = z->clone());  // a reorder cannot run in place
        memory z_mem = wrap(p.z_md, *z);
        p.z_reorder->execute(s, z_mem, dst);
      } else if (dst.get_data_handle() != z->raw()) {
        std::memcpy(dst.get_data_handle(), z->raw(), z->nbytes());
      }
    }
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w_mem}, {DNNL_ARG_DST, dst}};
    if (ctx.has_input(2)) args[DNNL_ARG_BIAS] = wrap(m_bias_md, ctx.input(2));
    p.prim.execute(s, args);
    if (p.dst_out_reorder) p.dst_out_reorder->execute(s, p.dst_buf, y_mem);
    s.wait();
    count_primitive_run();
  }

  bool m_subsample = false;  // the "onednn_subsample" candidate
  bool m_runner_up = false;  // the "onednn_alt" candidate
  bool m_const_w;
  std::vector<int64_t> m_strides;
  ir::FusedActivation m_act;
  memory::desc m_bias_md;
  std::unique_ptr<Plan> m_plan;
};

}  // namespace

namespace {

// What the "onednn_subsample" candidate needs to know before shapes are
// concrete: a 2-D 1x1 kernel, strides, no groups, no explicit padding (a 1x1
// kernel never gets SAME padding, and dilation does not matter for it).
bool strided_pointwise(const ir::Node& node, const ir::Graph& graph) {
  if (!node.has_input(1) || node.attr_i("group", 1) != 1) return false;
  const ir::Value& w = graph.value(node.inputs[1]);
  if (!w.shape || w.shape->size() != 4) return false;
  for (size_t i = 2; i < 4; ++i)
    if ((*w.shape)[i].value != 1) return false;
  for (int64_t p : node.attr_ints("pads"))
    if (p != 0) return false;
  const std::vector<int64_t> strides = node.attr_ints("strides");
  return std::any_of(strides.begin(), strides.end(), [](int64_t s) { return s > 1; });
}

// Timed against "onednn" by the builder where they apply, refused elsewhere.
void add_conv_candidates(KernelRegistry& r, const std::string& op, const KernelFactory& reference) {
  r.add(
      op,
      [reference](const ir::Node& node, const ir::Graph& graph) -> std::unique_ptr<Kernel> {
        auto k = std::make_unique<ConvKernel>(node, graph, reference);
        k->use_runner_up();
        return k;
      },
      "onednn_alt");
  r.add(
      op,
      [reference](const ir::Node& node, const ir::Graph& graph) -> std::unique_ptr<Kernel> {
        if (!strided_pointwise(node, graph))
          throw Error(ErrorCode::Unsupported, node.label() + ": not a strided 1x1 convolution");
        auto k = std::make_unique<ConvKernel>(node, graph, reference);
        k->subsample_strided_pointwise();
        return k;
      },
      "onednn_subsample");
}

}  // namespace

void register_dnnl_conv(KernelRegistry& r) {
  override_kernel<ConvKernel>(r, "Conv", add_conv_candidates);
  override_kernel<ConvKernel>(r, "FusedConv", add_conv_candidates);
}

}  // namespace kiln::backend::onednn
