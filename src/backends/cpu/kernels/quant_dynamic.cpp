// DynamicQuantizeLinear and MeanVarianceNormalization: ops that compute
// statistics of their input before transforming it.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backends/cpu/kernels/quant_kernels.h"
#include "backends/cpu/kernels/reduce_kernels.h"
#include "backends/nn_params.h"

namespace kiln::backend {

namespace {

// uint8 quantization over [min(0, min x), max(0, max x)], as the spec's function
// body computes it: scale rounded to float, the zero point from the float64
// quotient, each element from the float quotient. An all-zero (or empty) input
// has scale 0: zero point and outputs are then 0. NaN elements are left out of
// the range and quantize to the zero point.
void run_dynamic_quantize(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DataType::Float32) unsupported_dtype(x.dtype(), ctx.node().label());
  const float* in = x.data<float>();
  float mn = 0.f, mx = 0.f;
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (std::isnan(in[i])) continue;
    mn = std::min(mn, in[i]);
    mx = std::max(mx, in[i]);
  }
  const auto scale = static_cast<float>((static_cast<double>(mx) - static_cast<double>(mn)) / 255.0);
  auto sat = [](double v) { return static_cast<uint8_t>(std::clamp(v, 0.0, 255.0)); };
  uint8_t zp = 0;
  if (scale > 0.f) zp = sat(std::nearbyint(-static_cast<double>(mn) / static_cast<double>(scale)));
  Tensor& y = ctx.output(0, DataType::UInt8, x.shape());
  uint8_t* out = y.data<uint8_t>();
  for (int64_t i = 0; i < x.numel(); ++i)
    out[i] = scale > 0.f && !std::isnan(in[i]) ? sat(std::nearbyint(static_cast<double>(in[i] / scale)) + zp) : zp;
  ctx.output(1, DataType::Float32, {}).data<float>()[0] = scale;
  ctx.output(2, DataType::UInt8, {}).data<uint8_t>()[0] = zp;
}

// (x - mean) / (std + 1e-9) over `axes` (default [0, 2, 3]), in double.
void run_mvn(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const std::vector<bool> reduced = params::mvn_reduced(ctx);
  Tensor& y = ctx.output(0, x.dtype(), x.shape());
  int64_t count = 1;
  const std::vector<int64_t> ostride = reduce::reduce_strides(x.shape(), reduced, &count);
  int64_t m = 1;
  for (size_t d = 0; d < reduced.size(); ++d)
    if (!reduced[d]) m *= x.shape()[d];
  dispatch_float(x.dtype(), ctx.node().label(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = x.data<T>();
    T* out = y.data<T>();
    auto val = [&](int64_t i) { return static_cast<double>(static_cast<reduce::Calc<T>>(in[i])); };
    std::vector<double> mean(static_cast<size_t>(m), 0.0), var(static_cast<size_t>(m), 0.0);
    reduce::walk(x.shape(), ostride, [&](int64_t i, int64_t o) { mean[o] += val(i); });
    for (double& v : mean) v /= static_cast<double>(count);
    reduce::walk(x.shape(), ostride, [&](int64_t i, int64_t o) {
      const double d = val(i) - mean[o];
      var[o] += d * d;
    });
    for (double& v : var) v = std::sqrt(v / static_cast<double>(count)) + 1e-9;
    reduce::walk(x.shape(), ostride, [&](int64_t i, int64_t o) {
      out[i] = T(static_cast<reduce::Calc<T>>((val(i) - mean[o]) / var[o]));
    });
  });
}

}  // namespace

void register_cpu_quant_dynamic(KernelRegistry& r) {
  r.add_fn("DynamicQuantizeLinear", run_dynamic_quantize);
  r.add_fn("MeanVarianceNormalization", run_mvn);
}

}  // namespace kiln::backend
