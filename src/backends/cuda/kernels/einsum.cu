// Einsum: the direct kernel (one thread per output element, looping over the
// contracted labels with per-label operand strides, as the CPU's naive
// contraction) takes every equation ir::parse_einsum accepts; the "cublaslt"
// candidate runs two-operand equations of the (batched) matrix-product form
// — batch labels, then M and N, K contracted, e.g. "bij,bjk->bik",
// "ij,kj->ik", "bhqd,bhkd->bhqk" — as one strided-batched GEMM, and
// everything else directly.
#include <memory>

#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/cublaslt_gemm.h"
#include "backends/cuda/kernels/cudnn_util.h"
#include "ir/ops/nn_einsum.h"

namespace kiln::backend::cuda {

namespace {

constexpr int k_ops = 8;    // operands the direct kernel takes
constexpr int k_axes = 12;  // output labels, and contracted labels, it takes

struct EinsumParams {
  int n_ops = 0, n_out = 0, n_sum = 0;
  const void* ops[k_ops] = {};
  int64_t out_size[k_axes] = {}, sum_size[k_axes] = {};
  int64_t out_stride[k_ops][k_axes] = {}, sum_stride[k_ops][k_axes] = {};
  int64_t out_count = 0, sum_count = 0;
};

template <typename T>
__global__ void einsum_direct_kernel(T* y, EinsumParams p) {
  KILN_GRID_STRIDE(o, p.out_count) {
    int64_t off[k_ops];
    for (int k = 0; k < p.n_ops; ++k) off[k] = 0;
    int64_t rem = o;
    for (int a = p.n_out - 1; a >= 0; --a) {
      const int64_t c = rem % p.out_size[a];
      rem /= p.out_size[a];
      for (int k = 0; k < p.n_ops; ++k) off[k] += c * p.out_stride[k][a];
    }
    int64_t idx[k_axes];
    for (int a = 0; a < p.n_sum; ++a) idx[a] = 0;
    Acc<T> acc = Acc<T>(0);
    for (int64_t s = 0; s < p.sum_count; ++s) {
      Acc<T> prod = Acc<T>(1);
      for (int k = 0; k < p.n_ops; ++k) prod *= load(static_cast<const T*>(p.ops[k])[off[k]]);
      acc += prod;
      // Odometer over the contracted labels, last fastest (the CPU's order).
      for (int a = p.n_sum - 1; a >= 0; --a) {
        ++idx[a];
        for (int k = 0; k < p.n_ops; ++k) off[k] += p.sum_stride[k][a];
        if (idx[a] < p.sum_size[a]) break;
        for (int k = 0; k < p.n_ops; ++k) off[k] -= p.sum_stride[k][a] * p.sum_size[a];
        idx[a] = 0;
      }
    }
    y[o] = store<T>(acc);
  }
}

// Labels, sizes and per-operand strides of one call, as the CPU derives them.
struct Contraction {
  ir::EinsumSpec spec;
  std::vector<int64_t> size;
  std::vector<bool> used;
  std::vector<std::vector<int64_t>> strides;  // [operand][label]; 0 where a size-1 axis broadcasts
  std::vector<int> sum_labels;
  Shape out_shape;
};

Contraction contraction(const KernelContext& ctx) {
  const size_t n = ctx.num_inputs();
  Contraction c;
  std::vector<size_t> ranks;
  for (size_t i = 0; i < n; ++i) ranks.push_back(static_cast<size_t>(ctx.input(i).rank()));
  c.spec = ir::parse_einsum(ctx.node(), ranks);
  const auto labels = static_cast<size_t>(c.spec.num_labels);
  c.size.assign(labels, 1);
  c.used.assign(labels, false);
  for (size_t i = 0; i < n; ++i) {
    const Shape& s = ctx.input(i).shape();
    for (size_t a = 0; a < s.size(); ++a) {
      const auto l = static_cast<size_t>(c.spec.inputs[i][a]);
      if (!c.used[l] || c.size[l] == 1) c.size[l] = s[a];
      else if (s[a] != 1 && s[a] != c.size[l])
        ctx.fail("label sizes disagree: " + std::to_string(c.size[l]) + " vs " + std::to_string(s[a]) + " in input " +
                 std::to_string(i) + " " + shape_str(s));
      c.used[l] = true;
    }
  }
  c.strides.assign(n, std::vector<int64_t>(labels, 0));
  for (size_t i = 0; i < n; ++i) {
    const Shape& s = ctx.input(i).shape();
    int64_t stride = 1;
    for (size_t a = s.size(); a-- > 0;) {
      const auto l = static_cast<size_t>(c.spec.inputs[i][a]);
      if (!(s[a] == 1 && c.size[l] != 1)) c.strides[i][l] += stride;
      stride *= s[a];
    }
  }
  std::vector<bool> in_out(labels, false);
  for (int l : c.spec.output) {
    c.out_shape.push_back(c.size[static_cast<size_t>(l)]);
    in_out[static_cast<size_t>(l)] = true;
  }
  for (size_t l = 0; l < labels; ++l)
    if (c.used[l] && !in_out[l]) c.sum_labels.push_back(static_cast<int>(l));
  return c;
}

void run_direct(KernelContext& ctx, const Contraction& c, DataType dt, void* y, int64_t out_count) {
  const size_t n = ctx.num_inputs();
  if (n > static_cast<size_t>(k_ops) || c.spec.output.size() > static_cast<size_t>(k_axes) ||
      c.sum_labels.size() > static_cast<size_t>(k_axes))
    throw Error(ErrorCode::Unsupported, ctx.node().label() + ": einsum on cuda takes up to " + std::to_string(k_ops) +
                                            " operands and " + std::to_string(k_axes) + " output/contracted labels");
  EinsumParams p;
  p.n_ops = static_cast<int>(n);
  p.n_out = static_cast<int>(c.spec.output.size());
  p.n_sum = static_cast<int>(c.sum_labels.size());
  p.out_count = out_count;
  p.sum_count = 1;
  for (size_t k = 0; k < n; ++k) p.ops[k] = ctx.input(k).raw();
  for (int a = 0; a < p.n_out; ++a) {
    const auto l = static_cast<size_t>(c.spec.output[static_cast<size_t>(a)]);
    p.out_size[a] = c.size[l];
    for (size_t k = 0; k < n; ++k) p.out_stride[k][a] = c.strides[k][l];
  }
  for (int a = 0; a < p.n_sum; ++a) {
    const auto l = static_cast<size_t>(c.sum_labels[static_cast<size_t>(a)]);
    p.sum_size[a] = c.size[l];
    p.sum_count *= c.size[l];
    for (size_t k = 0; k < n; ++k) p.sum_stride[k][a] = c.strides[k][l];
  }
  cudaStream_t s = cuda_stream(ctx).get();
  const auto launch = [&](auto tag) {
    using T = decltype(tag);
    einsum_direct_kernel<T><<<grid_for(out_count), k_threads, 0, s>>>(static_cast<T*>(y), p);
    KILN_CUDA_LAUNCH("einsum_direct_kernel");
  };
  if (dt == DataType::Int32) launch(int32_t{});
  else if (dt == DataType::Int64) launch(int64_t{});
  else dispatch_float(dt, ctx, launch);
}

// A two-operand equation as Y[batch][M,N] = op(A)[M,K] op(B)[K,N], labels in
// the order batch, M, K (or K, M) in A, batch, K, N (or N, K) in B, batch, M,
// N in Y; no broadcast, repeated or single-operand contracted labels.
struct MatmulForm {
  size_t a = 0, b = 1;  // which input plays A and B
  bool ta = false, tb = false;
  int64_t batch = 1, m = 1, n = 1, k = 1;
};

bool matmul_form(const KernelContext& ctx, const Contraction& c, MatmulForm& f) {
  if (ctx.num_inputs() != 2) return false;
  const std::vector<int>& lo = c.spec.output;
  for (const auto& [ia, ib] : {std::pair<size_t, size_t>{0, 1}, std::pair<size_t, size_t>{1, 0}}) {
    const std::vector<int>& la = c.spec.inputs[ia];
    const std::vector<int>& lb = c.spec.inputs[ib];
    const auto has = [](const std::vector<int>& v, int l) { return std::find(v.begin(), v.end(), l) != v.end(); };
    const auto unique_exact = [&](const std::vector<int>& v, const Shape& s) {
      for (size_t i = 0; i < v.size(); ++i) {
        if (std::count(v.begin(), v.end(), v[i]) != 1) return false;
        if (s[i] != c.size[static_cast<size_t>(v[i])]) return false;  // a broadcast axis
      }
      return true;
    };
    if (!unique_exact(la, ctx.input(ia).shape()) || !unique_exact(lb, ctx.input(ib).shape())) return false;
    std::vector<int> bl, ml, nl, ka, kb;
    for (int l : lo) {
      const bool in_a = has(la, l), in_b = has(lb, l);
      (in_a && in_b ? bl : in_a ? ml : nl).push_back(l);
    }
    for (int l : la)
      if (!has(lo, l)) {
        if (!has(lb, l)) return false;  // summed over one operand only
        ka.push_back(l);
      }
    for (int l : lb)
      if (!has(lo, l)) {
        if (!has(la, l)) return false;
        kb.push_back(l);
      }
    if (ka.empty()) return false;
    const auto cat = [](std::initializer_list<const std::vector<int>*> parts) {
      std::vector<int> v;
      for (const auto* p : parts) v.insert(v.end(), p->begin(), p->end());
      return v;
    };
    if (lo != cat({&bl, &ml, &nl})) continue;
    const bool a_n = la == cat({&bl, &ml, &ka}), a_t = !a_n && la == cat({&bl, &ka, &ml});
    const bool b_n = lb == cat({&bl, &ka, &nl}), b_t = !b_n && lb == cat({&bl, &nl, &ka});
    if (!(a_n || a_t) || !(b_n || b_t)) continue;
    const auto prod = [&](const std::vector<int>& v) {
      int64_t p = 1;
      for (int l : v) p *= c.size[static_cast<size_t>(l)];
      return p;
    };
    f = MatmulForm{ia, ib, a_t, b_t, prod(bl), prod(ml), prod(nl), prod(ka)};
    return f.batch > 0 && f.m > 0 && f.n > 0 && f.k > 0 && f.batch <= INT32_MAX;
  }
  return false;
}

class EinsumKernel final : public Kernel {
 public:
  explicit EinsumKernel(bool blas) : m_blas(blas) {}

  void run(KernelContext& ctx) override {
    const size_t n = ctx.num_inputs();
    if (n == 0) ctx.fail("needs at least one input");
    const DataType dt = ctx.input(0).dtype();
    for (size_t i = 0; i < n; ++i)
      if (ctx.input(i).dtype() != dt) ctx.fail("all inputs must have the same dtype");
    const Contraction c = contraction(ctx);
    Tensor& y = ctx.output(0, dt, c.out_shape);
    if (!y.numel()) return;
    MatmulForm f;
    cudaDataType_t type = CUDA_R_32F;
    if (m_blas && cuda_data_type(dt, &type) && matmul_form(ctx, c, f)) {
      const Tensor& a = ctx.input(f.a);
      const Tensor& b = ctx.input(f.b);
      GemmProblem p;
      p.ab_type = p.cd_type = type;
      p.ta = f.ta;
      p.tb = f.tb;
      p.m = f.m;
      p.n = f.n;
      p.k = f.k;
      p.lda = f.ta ? f.m : f.k;
      p.ldb = f.tb ? f.k : f.n;
      p.ldc = f.n;
      p.batch = static_cast<int32_t>(f.batch);
      p.stride_a = f.m * f.k;
      p.stride_b = f.k * f.n;
      p.stride_c = f.m * f.n;
      p.align_a = static_cast<uint32_t>(pointer_alignment(a.raw()));
      p.align_b = static_cast<uint32_t>(pointer_alignment(b.raw()));
      p.align_c = static_cast<uint32_t>(pointer_alignment(y.raw()));
      CudaStream& st = cuda_stream(ctx);
      if (const GemmPlan* plan = m_cache.get(st.cublaslt(), p)) {
        void* ws = plan->workspace ? st.workspace(plan->workspace) : nullptr;
        run_gemm(st.cublaslt(), *plan, 1.0, a.raw(), b.raw(), 0.0, nullptr, y.raw(), nullptr, ws, st.get());
        return;
      }
    }
    run_direct(ctx, c, dt, y.raw(), y.numel());
  }

 private:
  bool m_blas;
  GemmCache m_cache;
};

std::unique_ptr<Kernel> make_einsum(const ir::Node& n, const ir::Graph& g, bool blas) {
  if (n.inputs.empty() || n.inputs.size() > static_cast<size_t>(k_ops))
    throw Error(ErrorCode::Unsupported, n.label() + ": einsum on cuda takes 1.." + std::to_string(k_ops) + " operands");
  for (ir::ValueId v : n.inputs)
    if (!dtype_in(g, v, {DataType::Float32, DataType::Float16, DataType::BFloat16, DataType::Float64, DataType::Int32,
                         DataType::Int64}))
      throw Error(ErrorCode::Unsupported, n.label() + ": einsum on cuda takes float, int32 and int64 operands");
  return std::make_unique<EinsumKernel>(blas);
}

}  // namespace

void register_cuda_einsum(KernelRegistry& r) {
  r.add("Einsum", [](const ir::Node& n, const ir::Graph& g) { return make_einsum(n, g, false); }, "cuda");
  r.add("Einsum", [](const ir::Node& n, const ir::Graph& g) { return make_einsum(n, g, true); }, "cublaslt");
}

}  // namespace kiln::backend::cuda
