#include <algorithm>
#include <set>

#include "backends/backend.h"
#include "builder/kernel_selection.h"
#include "builder/memory_planner.h"
#include "builder/shape_limits.h"
#include "core/log.h"
#include "builder/specialize.h"
#include "engine/engine_data.h"
#include "kiln/builder.h"
#include "kiln/error.h"
#include "onnx/model_data.h"

#ifndef KILN_VERSION
#define KILN_VERSION "dev"
#endif

namespace kiln {

std::string_view precision_name(Precision p) {
  switch (p) {
    case Precision::FP32: return "fp32";
    case Precision::FP16: return "fp16";
    case Precision::BF16: return "bf16";
  }
  return "?";
}

Precision parse_precision(std::string_view p) {
  if (p == "fp32" || p == "float32") return Precision::FP32;
  if (p == "fp16" || p == "float16") return Precision::FP16;
  if (p == "bf16" || p == "bfloat16") return Precision::BF16;
  throw Error(ErrorCode::InvalidArgument, "precision '" + std::string(p) + "': fp32, fp16 or bf16");
}

std::vector<std::string> BuildConfig::invariant_fields() const {
  // The one list of engine-invariant settings. Adding a field to BuildConfig
  // that changes the engine means adding it here, or caches will serve stale
  // engines.
  std::vector<std::string> f;
  f.push_back("precision=" + std::string(precision_name(precision)));
  for (const auto& [name, r] : profiles)
    f.push_back("profile." + name + "=" + shape_str(r.min) + ":" + shape_str(r.opt) + ":" + shape_str(r.max));
  f.push_back("optimization_level=" + std::to_string(optimization_level));
  f.push_back(std::string("weight_streaming=") + (weight_streaming ? "1" : "0"));
  f.push_back(std::string("weightless=") + (weightless ? "1" : "0"));
  f.push_back("device=" + std::string(device_kind_name(Device::parse(device).kind)));
  f.push_back("cpu_threads=" + std::to_string(cpu_threads));
  return f;
}

namespace {

// Weights a weightless engine leaves out: float tensors big enough to matter.
// Small integer constants (shapes, axes) stay: shape inference needs them.
bool is_refittable_weight(const Tensor& t) { return dtype_is_float(t.dtype()) && t.nbytes() >= 1024; }

// "16 FusedConv, 12 Attention, ...": the com.kiln ops the passes made, for
// the build log (which fusions applied is the first question about speed).
std::string fused_summary(const ir::Graph& g) {
  std::map<std::string, int> counts;
  for (const ir::Node& n : g.nodes)
    if (n.domain == "com.kiln") ++counts[n.op_type];
  std::string out;
  for (const auto& [op, n] : counts) out += (out.empty() ? "" : ", ") + std::to_string(n) + " " + op;
  return out;
}

void report(const BuildConfig& c, const char* stage, double fraction) {
  if (c.on_progress) c.on_progress({stage, fraction});
}

// Applies profiles to the graph inputs: dims fixed by min == max become static;
// checks each profile against the model's declared shape.
void apply_profiles(ir::Graph& g, const BuildConfig& config, std::vector<TensorSpec>& specs) {
  std::set<std::string> used;
  for (ir::ValueId id : g.inputs) {
    ir::Value& v = g.value(id);
    TensorSpec spec;
    spec.name = v.name;
    spec.dtype = v.dtype;
    auto it = config.profiles.find(v.name);
    if (it != config.profiles.end()) {
      used.insert(v.name);
      const ShapeRange& r = it->second;
      const std::string where = "profile for input '" + v.name + "'";
      if (r.min.size() != r.opt.size() || r.opt.size() != r.max.size())
        throw Error(ErrorCode::InvalidArgument, where + ": min/opt/max ranks differ");
      if (v.shape && v.shape->size() != r.opt.size())
        throw Error(ErrorCode::InvalidArgument, where + ": rank " + std::to_string(r.opt.size()) +
                                                    " but the model declares " + ir::sym_str(*v.shape));
      ir::SymShape s;
      for (size_t d = 0; d < r.opt.size(); ++d) {
        if (r.min[d] < 0 || r.min[d] > r.opt[d] || r.opt[d] > r.max[d])
          throw Error(ErrorCode::InvalidArgument, where + ": needs 0 <= min <= opt <= max in dim " + std::to_string(d));
        const bool model_static = v.shape && (*v.shape)[d].known();
        if (model_static && (r.min[d] != (*v.shape)[d].value || r.max[d] != (*v.shape)[d].value))
          throw Error(ErrorCode::InvalidArgument, where + ": dim " + std::to_string(d) + " is fixed at " +
                                                      std::to_string((*v.shape)[d].value) + " in the model");
        if (r.min[d] == r.max[d]) s.push_back(ir::Dim(r.min[d]));
        else s.push_back(v.shape ? (*v.shape)[d] : ir::Dim::sym(v.name + ":" + std::to_string(d)));
      }
      v.shape = s;
      spec.min = r.min;
      spec.opt = r.opt;
      spec.max = r.max;
    } else if (!v.shape) {
      throw Error(ErrorCode::InvalidArgument, "input '" + v.name + "' has no declared shape; give a profile");
    }
    for (const ir::Dim& d : *v.shape) spec.shape.push_back(d.known() ? d.value : -1);
    specs.push_back(spec);
  }
  for (const auto& [name, r] : config.profiles)
    if (!used.count(name)) throw Error(ErrorCode::InvalidArgument, "profile names unknown input '" + name + "'");
}

}  // namespace

std::string default_device() {
  if (!backend::backend_registered("cuda")) return "cpu";
  try {
    backend::backend_for("cuda:0");
    return "cuda:0";
  } catch (const Error&) {
    return "cpu";
  }
}

Engine build_engine(const Model& model, const BuildConfig& config) {
  if (!model.data()) throw Error(ErrorCode::InvalidArgument, "build_engine: empty model");
  const Device device = Device::parse(config.device);
  if (device.is_host() && config.precision != Precision::FP32)
    throw Error(ErrorCode::Unsupported, "the cpu backend builds fp32 engines only (asked for " +
                                            std::string(precision_name(config.precision)) + ")");
  if (config.weight_streaming && device.is_host())
    throw Error(ErrorCode::Unsupported, "weight streaming needs a GPU device");
  if (config.cpu_threads < 0) throw Error(ErrorCode::InvalidArgument, "cpu_threads must be >= 0");
  backend::Backend& be = backend::backend_for(device);

  auto e = std::make_shared<detail::EngineData>();
  e->backend = be.name();
  e->fingerprint = be.fingerprint();
  e->producer = std::string("kiln ") + KILN_VERSION;
  e->config = config.invariant_fields();
  e->optimization_level = config.optimization_level;
  e->cpu_threads = config.cpu_threads;
  e->weightless = config.weightless;
  e->weight_streaming = config.weight_streaming;
  ir::Graph& g = e->graph;
  g = model.data()->graph;

  report(config, "profiles", 0.05);
  apply_profiles(g, config, e->inputs);
  builder::check_input_shape_limits(e->inputs);  // before kernel timing allocates them

  report(config, "shape inference, folding, fusion and placement", 0.1);
  // A weightless engine must not bake weight values into anything: passes see
  // the weights as opaque inputs (no BN folding into them, no folding through
  // them), and the data comes back after, for this in-memory engine only.
  std::map<std::string, Tensor> held_weights;
  if (config.weightless) {
    for (ir::Value& v : g.values)
      if (v.constant && is_refittable_weight(*v.constant)) {
        held_weights[v.name] = *v.constant;
        v.constant.reset();
      }
  }
  passes::LoweringResult lowering;
  builder::PartitionResult placed;
  try {
    const DataType compute = config.precision == Precision::FP16   ? DataType::Float16
                             : config.precision == Precision::BF16 ? DataType::BFloat16
                                                                   : DataType::Float32;
    placed = builder::optimize(g, config.optimization_level, be, compute, &lowering);
  } catch (const Error& err) {
    throw err.with_context(model.path());
  }
  if (!placed.unsupported.empty()) {
    std::string msg = model.path() + ": " + std::to_string(placed.unsupported.size()) + " node(s) cannot run on " +
                      be.name() + (device.is_host() ? "" : " or the cpu") + ":";
    for (size_t i = 0; i < std::min<size_t>(placed.unsupported.size(), 5); ++i) msg += "\n  " + placed.unsupported[i];
    if (placed.unsupported.size() > 5) msg += "\n  ...";
    throw Error(ErrorCode::Unsupported, msg);
  }
  if (placed.fallbacks > 0)
    log_info(std::to_string(placed.fallbacks) + " node(s) run on the cpu, which " + be.name() +
             " lacks (kiln info lists them); " + std::to_string(placed.transfers) + " copies between memories");
  if (const std::string fused = fused_summary(g); !fused.empty()) log_info("fused: " + fused);
  if (config.precision != Precision::FP32) {
    const std::string p(precision_name(config.precision));
    log_info(p + ": " + std::to_string(lowering.lowered) + " node(s) in " + p + ", " + std::to_string(lowering.kept) +
             " kept in fp32, " + std::to_string(lowering.casts) + " cast(s)");
  }
  for (ir::Value& v : g.values) {
    auto it = held_weights.find(v.name);
    if (it == held_weights.end()) continue;
    v.constant = it->second;
    e->weights.push_back(static_cast<ir::ValueId>(&v - g.values.data()));
  }

  report(config, "kernel selection", 0.6);
  bool inputs_static = true;
  for (ir::ValueId id : g.inputs) inputs_static &= ir::shape_known(*g.value(id).shape);
  if (config.optimization_level >= 1) {
    const builder::SelectionStats sel = builder::select_kernels(g, be, config.timing_cache, config.cpu_threads);
    if (sel.nodes)
      log_info("kernel selection: " + std::to_string(sel.nodes) + " choices, " + std::to_string(sel.from_cache) +
               " from the timing cache, " + std::to_string(sel.single) + " with one candidate, " +
               std::to_string(sel.timed) + " timed in " +
               std::to_string(sel.timing_seconds) + " s");
  }

  report(config, "memory plan", 0.8);
  if (inputs_static) {
    e->plan = builder::plan_memory(g, be);
    e->plan_valid = true;
  }
  for (ir::ValueId id : g.outputs) {
    const ir::Value& v = g.value(id);
    TensorSpec spec;
    spec.name = v.name;
    spec.dtype = v.dtype;
    if (v.shape)
      for (const ir::Dim& d : *v.shape) spec.shape.push_back(d.known() ? d.value : -1);
    // With static inputs, an unknown output dim can only come from data.
    if (inputs_static && (!v.shape || !ir::shape_known(*v.shape))) e->needs_output_allocator = true;
    e->outputs.push_back(spec);
  }
  report(config, "done", 1.0);
  return Engine(std::move(e));
}

}  // namespace kiln
