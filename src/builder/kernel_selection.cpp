#include "builder/kernel_selection.h"

#include <chrono>
#include <limits>
#include <random>
#include <sstream>

#include "core/dispatch.h"
#include "core/log.h"
#include "kiln/error.h"

namespace kiln::builder {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int k_timed_runs = 3;

bool inputs_known(const ir::Graph& g, const ir::Node& n) {
  for (ir::ValueId v : n.inputs) {
    if (v == ir::k_no_value) continue;
    const ir::Value& val = g.value(v);
    if (!val.constant && (!val.shape || !ir::shape_known(*val.shape))) return false;
  }
  return true;
}

// Inputs to time with: constants as they are, the rest small random values
// (zeros for integer inputs, which are often indices).
std::vector<Tensor> timing_inputs(const ir::Graph& g, const ir::Node& n) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<Tensor> out;
  for (ir::ValueId v : n.inputs) {
    if (v == ir::k_no_value) { out.emplace_back(); continue; }
    const ir::Value& val = g.value(v);
    if (val.constant) { out.push_back(*val.constant); continue; }
    Tensor t = Tensor::empty(val.dtype, ir::to_shape(*val.shape));
    if (dtype_is_float(val.dtype))
      dispatch_float(val.dtype, "timing input", [&](auto tag) {
        using T = decltype(tag);
        for (int64_t i = 0; i < t.numel(); ++i) t.data<T>()[i] = T(u(rng));
      });
    out.push_back(t);
  }
  return out;
}

// Best of k_timed_runs after one warm-up run; +inf when the candidate refuses.
double time_candidate(const backend::KernelFactory& factory, const ir::Graph& g, const ir::Node& n,
                      const std::vector<Tensor>& inputs) {
  try {
    auto kernel = factory(n, g);
    std::vector<const Tensor*> ins;
    for (const Tensor& t : inputs) ins.push_back(t.defined() ? &t : nullptr);
    double best = std::numeric_limits<double>::infinity();
    for (int run = 0; run <= k_timed_runs; ++run) {
      std::vector<Tensor> outs(n.outputs.size());
      backend::KernelContext ctx(n, g.opset(n.domain), ins, outs,
                                 [](size_t, DataType dt, const Shape& s) { return Tensor::empty(dt, s); }, nullptr);
      const auto t0 = Clock::now();
      kernel->run(ctx);
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      if (run > 0) best = std::min(best, ms);
    }
    return best;
  } catch (const std::exception& e) {
    log_debug(n.label() + ": candidate refused while timing: " + e.what());
    return std::numeric_limits<double>::infinity();
  }
}

}  // namespace

std::string kernel_signature(const ir::Graph& g, const ir::Node& n) {
  std::ostringstream os;
  os << n.domain << "::" << n.op_type << '(';
  for (ir::ValueId v : n.inputs) {
    if (v == ir::k_no_value) { os << "_,"; continue; }
    const ir::Value& val = g.value(v);
    os << dtype_name(val.dtype) << (val.shape ? ir::sym_str(*val.shape) : "[*]") << (val.constant ? "c" : "") << ',';
  }
  os << ')';
  for (const auto& [key, a] : n.attrs) {
    if (key == "kiln.kernel") continue;
    os << ' ' << key << '=';
    switch (a.kind) {
      case ir::Attribute::Kind::Int: os << a.i; break;
      case ir::Attribute::Kind::Float: os << a.f; break;
      case ir::Attribute::Kind::String: os << a.s; break;
      case ir::Attribute::Kind::Ints: for (int64_t x : a.ints) os << x << ','; break;
      case ir::Attribute::Kind::Floats: for (float x : a.floats) os << x << ','; break;
      default: os << '?'; break;
    }
  }
  return os.str();
}

SelectionStats select_kernels(ir::Graph& g, backend::Backend& be, TimingCache* cache) {
  SelectionStats stats;
  const std::string device = be.fingerprint();
  const auto start = Clock::now();
  for (ir::Node& n : g.nodes) {
    const std::vector<std::string> names = be.kernels().candidates(n.op_type);
    if (names.size() < 2 || !inputs_known(g, n)) continue;
    ++stats.nodes;
    const std::string sig = kernel_signature(g, n);
    std::string choice;
    if (cache) {
      if (auto best = cache->best(sig, device); best && be.kernels().find(n.op_type, best->candidate)) {
        choice = best->candidate;
        ++stats.from_cache;
      }
    }
    if (choice.empty()) {
      const std::vector<Tensor> inputs = timing_inputs(g, n);
      double best_ms = std::numeric_limits<double>::infinity();
      for (const std::string& name : names) {
        const double ms = time_candidate(*be.kernels().find(n.op_type, name), g, n, inputs);
        if (ms == std::numeric_limits<double>::infinity()) continue;
        if (cache) cache->record(sig, device, name, ms);
        if (ms < best_ms) {
          best_ms = ms;
          choice = name;
        }
      }
      ++stats.timed;
    }
    if (choice.empty()) continue;  // every candidate refused: keep the default, the run will say why
    ir::Attribute a;
    a.kind = ir::Attribute::Kind::String;
    a.s = choice;
    n.attrs["kiln.kernel"] = a;
  }
  stats.timing_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return stats;
}

}  // namespace kiln::builder
