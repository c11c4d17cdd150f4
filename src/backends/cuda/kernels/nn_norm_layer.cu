// Normalizations over trailing axes or one axis on CUDA: LayerNormalization
// (with optional Mean/InvStdDev in stash_type), RMSNormalization,
// LpNormalization and LRN (across channels). As the CPU: statistics in
// double, the affine step in the compute type (float, double for float64).
// LayerNormalization and RMSNormalization without Mean/InvStdDev outputs and
// with rows of at most rows::k_max elements (transformers' case) take a
// faster path: rows held in registers (x read once), scale and bias read in
// their own dtype (no conversion launches per run). com.kiln
// SkipLayerNormalization (a residual Add and the LayerNormalization reading
// it) runs on that path too.
#include "backends/cuda/kernels/reduce_engine.cuh"
#include "backends/cuda/kernels/row_kernels.cuh"
#include "backends/nn_params.h"

namespace kiln::backend::cuda::rdx {

namespace {

// ---- LayerNormalization / RMSNormalization: a row per leading index ----
template <typename T, typename A, bool Rms>
__global__ void __launch_bounds__(k_threads)
    layer_norm_kernel(const T* __restrict__ x, T* __restrict__ y, const A* __restrict__ scale,
                      const A* __restrict__ bias, A* __restrict__ mean_out, A* __restrict__ inv_out, ReduceGeom g,
                      Launch l, double eps) {
  double* sh = shared_slots<double>();
  const Lanes ln = lanes(l);
  const int64_t n = g.count;
  for (int64_t ob = blockIdx.x * static_cast<int64_t>(l.x); ob < g.outputs; ob += static_cast<int64_t>(gridDim.x) * l.x) {
    const int64_t o = ob + ln.tx;
    const bool live = o < g.outputs;
    const int64_t b = live ? g.base(o) : 0;
    double mean = 0;
    if constexpr (!Rms) {
      double sum = 0;
      if (live)
        for (int64_t j = ln.ty; j < n; j += l.y) sum += static_cast<double>(load(x[b + g.roff(j)]));
      mean = group_reduce(sum, SumC<double>{}, sh, ln, l) / static_cast<double>(n);
    }
    double sq = 0;
    if (live)
      for (int64_t j = ln.ty; j < n; j += l.y) {
        const double d = static_cast<double>(load(x[b + g.roff(j)])) - mean;
        sq += d * d;
      }
    sq = group_reduce(sq, SumC<double>{}, sh, ln, l);
    if (!live) continue;
    const double inv = 1.0 / sqrt(sq / static_cast<double>(n) + eps);
    for (int64_t j = ln.ty; j < n; j += l.y) {
      const int64_t at = b + g.roff(j);
      const auto v = static_cast<A>((static_cast<double>(load(x[at])) - mean) * inv);
      y[at] = store<T>(v * scale[j] + (bias ? bias[j] : A(0)));
    }
    if (ln.ty == 0) {
      if (mean_out) mean_out[o] = static_cast<A>(mean);
      if (inv_out) inv_out[o] = static_cast<A>(inv);
    }
  }
}

// ---- the fast path: rows in registers (row_kernels.cuh) ----
// Row element j: x, or (SkipLayerNormalization) x + skip rounded to T as the
// Add it replaces did, also written to `sum` when asked.
template <typename T, typename A>
__device__ inline A row_value(const T* __restrict__ x, const T* __restrict__ skip, T* __restrict__ sum, int64_t at) {
  if (!skip) return static_cast<A>(load(x[at]));
  const T v = store<T>(load(x[at]) + load(skip[at]));
  if (sum) sum[at] = v;
  return static_cast<A>(load(v));
}

// Statistics in double (as the CPU: a float mean loses the low bits of rows
// whose mean is large against their spread), the affine step in A. Rows of
// up to rows::k_max elements are held in registers; longer ones
// (SkipLayerNormalization only: plain rows that long take the reduction
// engine) are read three times by a block each, the sum recomputed.
template <typename T, typename A, typename P, bool Rms>
__global__ void __launch_bounds__(1024)
    layer_norm_row_kernel(const T* __restrict__ x, const T* __restrict__ skip, T* __restrict__ sum,
                          T* __restrict__ y, const P* __restrict__ scale, const P* __restrict__ bias, int64_t count,
                          int64_t n, double eps) {
  __shared__ double sh[32];
  A v[rows::k_vpt];
  const bool held = n <= rows::k_max;
  const int64_t step = blockDim.x;
  KILN_ROWS(r, count) {
    const int64_t base = r * n;
    double total = 0;
    // Whole 16-byte shares move as vectors (the rows of x, skip, sum and y
    // start alike: each is r * n elements into its tensor).
    const bool chunk = held && rows::chunk_ok(x + base, static_cast<int>(n)) &&
                       (!skip || rows::chunk_ok(skip + base, static_cast<int>(n))) &&
                       (!sum || rows::chunk_ok(sum + base, static_cast<int>(n))) &&
                       rows::chunk_ok(y + base, static_cast<int>(n));
    if (chunk) {
      T cx[rows::k_vpt];
      rows::chunk_load(cx, x + base + rows::at(0));
      if (skip) {
        T cs[rows::k_vpt];
        rows::chunk_load(cs, skip + base + rows::at(0));
#pragma unroll
        for (int k = 0; k < rows::k_vpt; ++k) cx[k] = store<T>(load(cx[k]) + load(cs[k]));
        if (sum) rows::chunk_store(sum + base + rows::at(0), cx);
      }
#pragma unroll
      for (int k = 0; k < rows::k_vpt; ++k) {
        v[k] = static_cast<A>(load(cx[k]));
        total += v[k];
      }
    } else if (held) {
#pragma unroll
      for (int k = 0; k < rows::k_vpt; ++k) {
        const int j = rows::at(k);
        v[k] = j < n ? row_value<T, A>(x, skip, sum, base + j) : A(0);
        total += v[k];
      }
    } else {
      for (int64_t j = threadIdx.x; j < n; j += step) total += row_value<T, A>(x, skip, sum, base + j);
    }
    double mean = 0;
    if constexpr (!Rms) mean = rows::reduce(total, rows::Sum{}, sh) / static_cast<double>(n);
    double sq = 0;
    if (held) {
#pragma unroll
      for (int k = 0; k < rows::k_vpt; ++k) {
        const double d = static_cast<double>(v[k]) - mean;
        if (rows::at(k) < n) sq += d * d;
      }
    } else {
      for (int64_t j = threadIdx.x; j < n; j += step) {
        const double d = static_cast<double>(row_value<T, A>(x, skip, nullptr, base + j)) - mean;
        sq += d * d;
      }
    }
    sq = rows::reduce(sq, rows::Sum{}, sh);
    const A inv = static_cast<A>(1.0 / sqrt(sq / static_cast<double>(n) + eps));
    const A mu = static_cast<A>(mean);
    const auto affine = [&](int64_t j, A value) {
      return store<T>((value - mu) * inv * static_cast<A>(load(scale[j])) + (bias ? static_cast<A>(load(bias[j])) : A(0)));
    };
    const auto write = [&](int64_t j, A value) { y[base + j] = affine(j, value); };
    if (chunk) {
      T cy[rows::k_vpt];
#pragma unroll
      for (int k = 0; k < rows::k_vpt; ++k) cy[k] = affine(rows::at(k), v[k]);
      rows::chunk_store(y + base + rows::at(0), cy);
    } else if (held) {
#pragma unroll
      for (int k = 0; k < rows::k_vpt; ++k)
        if (rows::at(k) < n) write(rows::at(k), v[k]);
    } else {
      for (int64_t j = threadIdx.x; j < n; j += step) write(j, row_value<T, A>(x, skip, nullptr, base + j));
    }
  }
}

// The fast path over X (input 0) [+ the skip input], when it applies: no
// statistics asked for, rows no longer than rows::k_max unless skipping.
// False otherwise. Scale and bias are inputs scale_i and scale_i + 1.
template <bool Rms>
bool try_layer_norm_rows(KernelContext& ctx, const params::LayerNormPlan& plan, const Tensor* const stats[2],
                         Tensor& y, const Tensor* skip = nullptr, Tensor* sum = nullptr, size_t scale_i = 1) {
  const Tensor& x = ctx.input(0);
  if (stats[0] || stats[1] || plan.outer == 0 || plan.inner < 1) return false;
  if (!skip && plan.inner > rows::k_max) return false;
  const bool has_bias = !Rms && ctx.has_input(scale_i + 1);
  for (size_t i = scale_i; i < scale_i + (has_bias ? 2u : 1u); ++i) params::require_broadcast_to(ctx, i, plan.tail);
  const int64_t n = plan.inner;
  const rows::Launch l = rows::plan(plan.outer, std::min(n, rows::k_max));
  const cudaStream_t s = cuda_stream(ctx).get();
  dispatch_float(x.dtype(), ctx, [&](auto tag) {
    using T = decltype(tag);
    using A = Acc<T>;
    const auto launch = [&](auto ptag, const void* scale, const void* bias) {
      using P = decltype(ptag);
      layer_norm_row_kernel<T, A, P, Rms><<<l.blocks, l.threads, 0, s>>>(
          static_cast<const T*>(x.raw()), skip ? static_cast<const T*>(skip->raw()) : nullptr,
          sum ? static_cast<T*>(sum->raw()) : nullptr, static_cast<T*>(y.raw()), static_cast<const P*>(scale),
          static_cast<const P*>(bias), plan.outer, n, plan.eps);
      KILN_CUDA_LAUNCH("layer_norm_row_kernel");
    };
    // Scale and bias of x's dtype with one value per row element (a lowered
    // model's constants) are read as they are; others are converted to A.
    const auto direct = [&](size_t i) {
      return ctx.input(i).dtype() == x.dtype() && ctx.input(i).numel() == plan.inner;
    };
    if (direct(scale_i) && (!has_bias || direct(scale_i + 1))) {
      launch(T{}, ctx.input(scale_i).raw(), has_bias ? ctx.input(scale_i + 1).raw() : nullptr);
      return;
    }
    Scratch ws;
    const size_t scale_at = ws.add(static_cast<size_t>(n) * sizeof(A));
    const size_t bias_at = ws.add(has_bias ? static_cast<size_t>(n) * sizeof(A) : 0);
    ws.bind(ctx);
    to_acc<A>(ctx, ctx.input(scale_i), ws.at<A>(scale_at), plan.tail, s);
    if (has_bias) to_acc<A>(ctx, ctx.input(scale_i + 1), ws.at<A>(bias_at), plan.tail, s);
    launch(A{}, ws.at<A>(scale_at), has_bias ? ws.at<A>(bias_at) : nullptr);
  });
  return true;
}

// Input i broadcast one way onto `tail`, as A values in `dst`; ctx.fail when
// it does not broadcast.
template <typename A>
void param_to_tail(KernelContext& ctx, size_t i, const Shape& tail, A* dst, cudaStream_t s) {
  params::require_broadcast_to(ctx, i, tail);
  to_acc<A>(ctx, ctx.input(i), dst, tail, s);
}

template <bool Rms>
void run_layer_norm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const params::LayerNormPlan plan = params::layer_norm_plan(ctx);
  const int64_t outer = plan.outer, inner = plan.inner;
  const DataType stash = plan.stash;
  Tensor& y = ctx.output(0, x.dtype(), x.shape());
  Tensor* stats[2] = {nullptr, nullptr};
  for (size_t k = 0; k < 2; ++k)
    if (!Rms && ctx.has_output(k + 1)) stats[k] = &ctx.output(k + 1, stash, plan.stat_shape);
  if (outer == 0) return;  // (an empty row still has statistics: NaN, as the CPU)
  if (try_layer_norm_rows<Rms>(ctx, plan, stats, y)) return;
  const ReduceGeom g = axis_geom(outer, inner, 1);
  const Launch l = plan_launch(g, false);
  const cudaStream_t s = cuda_stream(ctx).get();
  dispatch_float(x.dtype(), ctx, [&](auto tag) {
    using T = decltype(tag);
    using A = Acc<T>;
    const bool has_bias = !Rms && ctx.has_input(2);
    const bool direct = stash == (std::is_same_v<A, double> ? DataType::Float64 : DataType::Float32);
    Scratch ws;
    const size_t scale_at = ws.add(static_cast<size_t>(inner) * sizeof(A));
    const size_t bias_at = ws.add(has_bias ? static_cast<size_t>(inner) * sizeof(A) : 0);
    size_t stat_at[2] = {0, 0};
    for (size_t k = 0; k < 2; ++k)
      if (stats[k] && !direct) stat_at[k] = ws.add(static_cast<size_t>(outer) * sizeof(A));
    ws.bind(ctx);
    A* scale = ws.at<A>(scale_at);
    A* bias = has_bias ? ws.at<A>(bias_at) : nullptr;
    param_to_tail<A>(ctx, 1, plan.tail, scale, s);
    if (has_bias) param_to_tail<A>(ctx, 2, plan.tail, bias, s);
    A* stat_ptr[2] = {nullptr, nullptr};
    for (size_t k = 0; k < 2; ++k)
      if (stats[k]) stat_ptr[k] = direct ? static_cast<A*>(stats[k]->raw()) : ws.at<A>(stat_at[k]);
    layer_norm_kernel<T, A, Rms><<<l.blocks, k_threads, 0, s>>>(static_cast<const T*>(x.raw()),
                                                                static_cast<T*>(y.raw()), scale, bias, stat_ptr[0],
                                                                stat_ptr[1], g, l, plan.eps);
    KILN_CUDA_LAUNCH("layer_norm_kernel");
    // Statistics go out in stash_type (float32 unless the model says otherwise).
    for (size_t k = 0; k < 2; ++k) {
      if (!stats[k] || direct) continue;
      dispatch_float(stash, ctx, [&](auto stag) {
        using S = decltype(stag);
        cast_kernel<A, S><<<grid_for(outer), k_threads, 0, s>>>(stat_ptr[k], static_cast<S*>(stats[k]->raw()), outer);
        KILN_CUDA_LAUNCH("cast_kernel");
      });
    }
  });
}

// ---- com.kiln SkipLayerNormalization: Sum = A + B, Y = LayerNorm(Sum) in one pass ----
void run_skip_layer_norm(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (b.dtype() != a.dtype() || b.shape() != a.shape())
    ctx.fail("B " + shape_str(b.shape()) + " must have the shape and dtype of A " + shape_str(a.shape()));
  const params::LayerNormPlan plan = params::layer_norm_plan(ctx);
  Tensor& y = ctx.output(0, a.dtype(), a.shape());
  Tensor* sum = ctx.has_output(1) ? &ctx.output(1, a.dtype(), a.shape()) : nullptr;
  if (a.numel() == 0) return;
  const Tensor* const no_stats[2] = {nullptr, nullptr};
  if (!try_layer_norm_rows<false>(ctx, plan, no_stats, y, &b, sum, 2))
    throw Error(ErrorCode::Internal, ctx.node().label() + ": no row kernel for " + shape_str(a.shape()));
}

// ---- LpNormalization: x / ||x||_p along one axis ----
template <typename T, typename A>
__global__ void __launch_bounds__(k_threads)
    lp_norm_kernel(const T* __restrict__ x, T* __restrict__ y, ReduceGeom g, Launch l, bool l1) {
  double* sh = shared_slots<double>();
  const Lanes ln = lanes(l);
  for (int64_t ob = blockIdx.x * static_cast<int64_t>(l.x); ob < g.outputs; ob += static_cast<int64_t>(gridDim.x) * l.x) {
    const int64_t o = ob + ln.tx;
    const bool live = o < g.outputs;
    const int64_t b = live ? g.base(o) : 0;
    double acc = 0;
    if (live)
      for (int64_t j = ln.ty; j < g.count; j += l.y) {
        const double v = static_cast<double>(load(x[b + g.roff(j)]));
        acc += l1 ? fabs(v) : v * v;
      }
    acc = group_reduce(acc, SumC<double>{}, sh, ln, l);
    if (!live) continue;
    const double norm = l1 ? acc : sqrt(acc);
    // A zero vector stays zero (as the ONNX reference), not 0/0.
    for (int64_t j = ln.ty; j < g.count; j += l.y) {
      const int64_t at = b + g.roff(j);
      y[at] = store<T>(norm == 0 ? A(0) : static_cast<A>(static_cast<double>(load(x[at])) / norm));
    }
  }
}

void run_lp_norm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const params::LpNormPlan plan = params::lp_norm_plan(ctx);
  const int64_t p = plan.p;
  Tensor& y = ctx.output(0, x.dtype(), x.shape());
  if (x.numel() == 0) return;
  const ReduceGeom g = axis_geom(plan.outer, plan.n, plan.inner);
  const Launch l = plan_launch(g, false);
  dispatch_float(x.dtype(), ctx, [&](auto tag) {
    using T = decltype(tag);
    lp_norm_kernel<T, Acc<T>><<<l.blocks, k_threads, 0, cuda_stream(ctx).get()>>>(
        static_cast<const T*>(x.raw()), static_cast<T*>(y.raw()), g, l, p == 1);
    KILN_CUDA_LAUNCH("lp_norm_kernel");
  });
}

// ---- LRN: y = x / (bias + alpha/size * sum of squares over nearby channels)^beta ----
template <typename T, typename A>
__global__ void lrn_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t n, int64_t c, int64_t plane,
                           int64_t before, int64_t after, double alpha_over_size, double beta, double bias) {
  KILN_GRID_STRIDE(i, n) {
    const int64_t ch = (i / plane) % c;
    const int64_t k0 = ch - before < 0 ? 0 : ch - before, k1 = ch + after < c - 1 ? ch + after : c - 1;
    const int64_t b0 = i - ch * plane;  // channel 0 of this image and position
    double sq = 0;
    for (int64_t k = k0; k <= k1; ++k) {
      const double v = static_cast<double>(load(x[b0 + k * plane]));
      sq += v * v;
    }
    y[i] = store<T>(static_cast<A>(static_cast<double>(load(x[i])) / pow(bias + alpha_over_size * sq, beta)));
  }
}

void run_lrn(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const params::LrnPlan plan = params::lrn_plan(ctx);
  const double alpha = plan.alpha, beta = plan.beta, bias = plan.bias;
  const int64_t size = plan.size, c = plan.c, before = plan.before, after = plan.after, plane = plan.plane;
  Tensor& y = ctx.output(0, x.dtype(), x.shape());
  const int64_t n = x.numel();
  if (n == 0) return;
  dispatch_float(x.dtype(), ctx, [&](auto tag) {
    using T = decltype(tag);
    lrn_kernel<T, Acc<T>><<<grid_for(n), k_threads, 0, cuda_stream(ctx).get()>>>(
        static_cast<const T*>(x.raw()), static_cast<T*>(y.raw()), n, c, plane, before, after,
        alpha / static_cast<double>(size), beta, bias);
    KILN_CUDA_LAUNCH("lrn_kernel");
  });
}

void check_norm(const ir::Node& n, const ir::Graph& g) {
  for (size_t i = 0; i < n.inputs.size(); ++i) require_input_dtype(n, g, i, k_float_types);
  if (!n.inputs.empty()) require_rank(n, g, n.inputs[0]);
}

}  // namespace

void register_norm_layer(KernelRegistry& r) {
  add_checked(
      r, "LayerNormalization",
      [](const ir::Node& n, const ir::Graph& g) {
        check_norm(n, g);
        if (!is_float_dtype(static_cast<DataType>(n.attr_i("stash_type", 1))))
          refuse(n, "stash_type must name a float type");
      },
      run_layer_norm<false>);
  add_checked(r, "RMSNormalization", check_norm, run_layer_norm<true>);
  add_checked(r, "SkipLayerNormalization", check_norm, run_skip_layer_norm);
  add_checked(r, "LpNormalization", check_norm, run_lp_norm);
  add_checked(r, "LRN", check_norm, run_lrn);
}

}  // namespace kiln::backend::cuda::rdx
