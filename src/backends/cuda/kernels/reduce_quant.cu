// DynamicQuantizeLinear on CUDA (float32 -> uint8), as the CPU: the range
// [min(0, min x), max(0, max x)] over the non-NaN elements (one engine
// reduction), the scale rounded to float, the zero point from the float64
// quotient, each element from the float quotient; scale 0 (an all-zero or
// empty input) gives zero point and outputs 0, NaN quantizes to the zero
// point. Scale and zero point stay on the device between the kernels.
#include "backends/cuda/kernels/reduce_engine.cuh"

namespace kiln::backend::cuda::rdx {

namespace {

// min/max starting from 0 (both are idempotent, so 0 is a valid identity).
struct RangeOp {
  using Acc = float2;  // x = min, y = max
  using Out = float2;
  __device__ Acc identity() const { return make_float2(0.f, 0.f); }
  __device__ Acc map(float v, int64_t, int64_t) const {
    return isnan(v) ? make_float2(0.f, 0.f) : make_float2(v, v);
  }
  __device__ Acc combine(Acc a, Acc b) const { return make_float2(fminf(a.x, b.x), fmaxf(a.y, b.y)); }
  __device__ Out finish(Acc a, int64_t) const { return a; }
};

__device__ inline uint8_t saturate_u8(double v) { return static_cast<uint8_t>(v < 0.0 ? 0.0 : (v > 255.0 ? 255.0 : v)); }

__global__ void dql_params_kernel(const float2* __restrict__ range, float* __restrict__ scale_out,
                                  uint8_t* __restrict__ zp_out) {
  const float mn = range->x, mx = range->y;
  const auto scale = static_cast<float>((static_cast<double>(mx) - static_cast<double>(mn)) / 255.0);
  uint8_t zp = 0;
  if (scale > 0.f) zp = saturate_u8(rint(-static_cast<double>(mn) / static_cast<double>(scale)));
  *scale_out = scale;
  *zp_out = zp;
}

__global__ void dql_apply_kernel(const float* __restrict__ x, uint8_t* __restrict__ y, const float* __restrict__ scale_p,
                                 const uint8_t* __restrict__ zp_p, int64_t n) {
  const float scale = *scale_p;
  const uint8_t zp = *zp_p;
  KILN_GRID_STRIDE(i, n) {
    const float v = x[i];
    y[i] = scale > 0.f && !isnan(v) ? saturate_u8(rint(static_cast<double>(v / scale)) + zp) : zp;
  }
}

void run_dynamic_quantize(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DataType::Float32) unsupported(ctx, x.dtype());
  const int64_t n = x.numel();
  Tensor& y = ctx.output(0, DataType::UInt8, x.shape());
  Tensor& scale = ctx.output(1, DataType::Float32, {});
  Tensor& zp = ctx.output(2, DataType::UInt8, {});
  const cudaStream_t s = cuda_stream(ctx).get();
  // All elements as one row; an empty input still gets its scale and zero point.
  ReduceGeom g;
  g.outputs = 1;
  g.count = n;
  g.rr = 1;
  g.rdims[0] = n;
  g.rstr[0] = 1;
  const Launch l = plan_launch(g, true);
  Scratch ws;
  const size_t range_at = ws.add(sizeof(float2));
  const size_t part_at = ws.add(partial_bytes<RangeOp>(g, l));
  ws.bind(ctx);
  float2* range = ws.at<float2>(range_at);
  run_reduce(g, l, static_cast<const float*>(x.raw()), range, ws.at<void>(part_at), RangeOp{}, s);
  auto* scale_p = static_cast<float*>(scale.raw());
  auto* zp_p = static_cast<uint8_t*>(zp.raw());
  dql_params_kernel<<<1, 1, 0, s>>>(range, scale_p, zp_p);
  KILN_CUDA_LAUNCH("dql_params_kernel");
  if (n == 0) return;
  dql_apply_kernel<<<grid_for(n), k_threads, 0, s>>>(static_cast<const float*>(x.raw()), static_cast<uint8_t*>(y.raw()),
                                                     scale_p, zp_p, n);
  KILN_CUDA_LAUNCH("dql_apply_kernel");
}

}  // namespace

void register_reduce_quant(KernelRegistry& r) {
  add_checked(
      r, "DynamicQuantizeLinear",
      [](const ir::Node& n, const ir::Graph& g) { require_input_dtype(n, g, 0, {DataType::Float32}); },
      run_dynamic_quantize);
}

}  // namespace kiln::backend::cuda::rdx
