#include "builder/kernel_selection.h"

#include <chrono>
#include <cstdio>
#include <limits>
#include <map>
#include <random>
#include <sstream>

#include "backends/transfer.h"
#include "builder/partition.h"
#include "core/dispatch.h"
#include "core/log.h"
#include "kiln/error.h"

namespace kiln::builder {

namespace {

using Clock = std::chrono::steady_clock;

// Candidates are timed in interleaved rounds, each keeping its best time. On a
// busy machine single runs stretch by 100x (an OpenMP thread descheduled in
// mid-kernel); interleaving spreads every candidate's samples over the same
// stretch of time, and cheap kernels get more rounds, so a burst of load
// rarely crowns the wrong candidate and persists that in the timing cache
// (a burst that makes the fastest one look 10x slower than another in its
// first round still drops it, below).
constexpr int k_min_rounds = 3;
constexpr int k_max_rounds = 15;
constexpr double k_sampling_ms = 25;  // keep adding rounds until this much time was spent (up to the max)
// A candidate 10x slower than the best so far cannot win: it is not timed
// again once over 5 ms, or once it has had k_min_rounds rounds (reference
// convolutions would otherwise cost seconds per build).
constexpr double k_hopeless_ratio = 10;
constexpr double k_hopeless_ms = 5;

bool inputs_known(const ir::Graph& g, const ir::Node& n) {
  for (ir::ValueId v : n.inputs) {
    if (v == ir::k_no_value) continue;
    const ir::Value& val = g.value(v);
    if (!val.constant && (!val.shape || !ir::shape_known(*val.shape))) return false;
  }
  return true;
}

// Inputs to time with: constants as they are, the rest small random values
// (zeros for integer inputs, which are often indices), each in the memory the
// kernel reads it from.
std::vector<Tensor> timing_inputs(const ir::Graph& g, const ir::Node& n, backend::Backend& be,
                                  backend::Stream& stream) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<Tensor> out;
  for (size_t k = 0; k < n.inputs.size(); ++k) {
    const ir::ValueId v = n.inputs[k];
    if (v == ir::k_no_value) { out.emplace_back(); continue; }
    const ir::Value& val = g.value(v);
    Tensor t;
    if (val.constant) {
      t = *val.constant;
    } else {
      t = Tensor::empty(val.dtype, ir::to_shape(*val.shape));
      if (dtype_is_float(val.dtype))
        dispatch_float(val.dtype, "timing input", [&](auto tag) {
          using T = decltype(tag);
          for (int64_t i = 0; i < t.numel(); ++i) t.data<T>()[i] = T(u(rng));
        });
    }
    const bool host = be.device().is_host() || be.host_input(n, k);
    if (!host) {
      Tensor d = be.empty(t.dtype(), t.shape());
      be.copy(d.raw(), d.device(), t.raw(), t.device(), t.nbytes(), stream);
      t = d;
    }
    out.push_back(t);
  }
  stream.synchronize();
  return out;
}

struct Timed {
  std::string name;
  std::unique_ptr<backend::Kernel> kernel;  // null once refused or hopeless
  double best_ms = std::numeric_limits<double>::infinity();
  std::vector<Tensor> outputs;  // kept between runs, so no run times an allocation
};

struct Bench {
  backend::Backend& be;
  backend::Stream& stream;
  const ir::Graph& g;
  const ir::Node& n;
  std::vector<const Tensor*> ins;
};

// One run of a candidate; false (and the kernel dropped) when it refuses.
bool run_once(Timed& c, const Bench& b, double* ms) {
  try {
    backend::Backend& out_be = backend::writes_host(b.n, b.be) ? backend::host_backend() : b.be;
    c.outputs.resize(b.n.outputs.size());
    const auto alloc = [&](size_t i, DataType dt, const Shape& s) {
      Tensor& kept = c.outputs.at(i);
      if (!kept.defined() || kept.dtype() != dt || kept.shape() != s) kept = out_be.empty(dt, s);
      return kept;
    };
    const double t = b.be.time_ms(b.stream, [&] { backend::run_node(b.be, *c.kernel, b.g, b.n, b.ins, &b.stream, alloc); });
    if (ms) *ms = t;
    return true;
  } catch (const std::exception& e) {
    log_debug(b.n.label() + ": candidate '" + c.name + "' refused while timing: " + e.what());
    c.kernel.reset();
    c.best_ms = std::numeric_limits<double>::infinity();
    return false;
  }
}

// The candidates in `names` that take `n`, in order (the refusals logged).
std::vector<Timed> construct_candidates(const std::vector<std::string>& names, const backend::KernelRegistry& registry,
                                        const ir::Graph& g, const ir::Node& n) {
  std::vector<Timed> cands;
  for (const std::string& name : names) {
    const backend::KernelFactory* factory = registry.find(n.op_type, name);
    if (!factory) continue;  // a name from a timing cache of another kiln build
    Timed c;
    c.name = name;
    try {
      c.kernel = (*factory)(n, g);
    } catch (const std::exception& e) {
      log_debug(n.label() + ": candidate '" + name + "' refused: " + e.what());
    }
    if (c.kernel) cands.push_back(std::move(c));
  }
  return cands;
}

// Each candidate's best time (+inf for those that refuse at run time), see
// k_min_rounds.
void time_candidates(std::vector<Timed>& cands, const Bench& b) {
  for (Timed& c : cands) run_once(c, b, nullptr);  // warm-up: primitive creation, caches
  const auto start = Clock::now();
  for (int round = 0; round < k_max_rounds; ++round) {
    if (round >= k_min_rounds &&
        std::chrono::duration<double, std::milli>(Clock::now() - start).count() >= k_sampling_ms)
      break;
    bool any = false;
    for (Timed& c : cands) {
      double ms = 0;
      if (!c.kernel || !run_once(c, b, &ms)) continue;
      c.best_ms = std::min(c.best_ms, ms);
      any = true;
    }
    if (!any) break;
    double best = std::numeric_limits<double>::infinity();
    for (const Timed& c : cands) best = std::min(best, c.best_ms);
    const bool sampled_enough = round + 1 >= k_min_rounds;
    for (Timed& c : cands)
      if (c.kernel && (c.best_ms > k_hopeless_ms || sampled_enough) && c.best_ms > k_hopeless_ratio * best)
        c.kernel.reset();
  }
}

bool constructs(const backend::KernelRegistry& registry, const std::string& candidate, const ir::Graph& g,
                const ir::Node& n) {
  return !construct_candidates({candidate}, registry, g, n).empty();
}

}  // namespace

std::string kernel_signature(const ir::Graph& g, const ir::Node& n, const backend::KernelRegistry& kernels) {
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
  os << " among";
  for (const std::string& c : kernels.candidates(n.op_type)) os << ' ' << c;
  return os.str();
}

std::string timing_device(const backend::Backend& backend, int cpu_threads) {
  std::string d = backend.timing_fingerprint();
  if (backend.device().is_host()) d += " threads=" + std::to_string(cpu_threads);
  return d;
}

SelectionStats select_kernels(ir::Graph& g, backend::Backend& primary, TimingCache* cache, int cpu_threads) {
  SelectionStats stats;
  const auto start = Clock::now();
  std::map<const backend::Backend*, std::unique_ptr<backend::Stream>> streams;
  for (ir::Node& n : g.nodes) {
    backend::Backend& be = backend_of(n, primary);
    const std::vector<std::string> names = be.kernels().candidates(n.op_type);
    if (names.size() < 2 || !inputs_known(g, n)) continue;
    ++stats.nodes;
    const std::string device = timing_device(be, cpu_threads);
    const std::string sig = kernel_signature(g, n, be.kernels());
    std::string choice;
    if (cache) {
      // A remembered choice is kept only if the candidate still takes the
      // node (a timing cache from another kiln build may name one that now
      // refuses it); else everything is timed afresh.
      if (auto best = cache->best(sig, device); best && constructs(be.kernels(), best->candidate, g, n)) {
        choice = best->candidate;
        ++stats.from_cache;
      }
    }
    if (choice.empty()) {
      std::vector<Timed> cands = construct_candidates(names, be.kernels(), g, n);
      if (cands.size() == 1) {
        // Nothing to choose between: no timing, nothing for the cache.
        choice = cands[0].name;
        log_debug(n.label() + ": only " + choice + " takes it");
        ++stats.single;
      } else if (!cands.empty()) {
        auto& stream = streams[&be];
        if (!stream) stream = be.create_stream(backend::StreamConfig{cpu_threads});
        backend::RunScope scope(*stream);
        const std::vector<Tensor> inputs = timing_inputs(g, n, be, *stream);
        Bench bench{be, *stream, g, n, {}};
        for (const Tensor& t : inputs) bench.ins.push_back(t.defined() ? &t : nullptr);
        time_candidates(cands, bench);
        double best_ms = std::numeric_limits<double>::infinity();
        std::string timings;  // "name ms, ..." for the debug log
        for (const Timed& c : cands) {
          if (c.best_ms == std::numeric_limits<double>::infinity()) continue;
          if (cache) cache->record(sig, device, c.name, c.best_ms);
          char ms[32];
          std::snprintf(ms, sizeof ms, " %.4f ms", c.best_ms);
          timings += (timings.empty() ? "" : ", ") + c.name + ms;
          if (c.best_ms < best_ms) {
            best_ms = c.best_ms;
            choice = c.name;
          }
        }
        if (!choice.empty()) log_debug(n.label() + ": timed " + timings + " -> " + choice);
        ++stats.timed;
      }
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
