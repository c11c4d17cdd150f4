#include "backends/cuda/kernels/cudnn_conv_plan.h"

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <tuple>

#include "backends/cuda/capture_gate.h"
#include "backends/cuda/cuda_check.h"
#include "core/env.h"
#include "core/log.h"
#include "kiln/error.h"

namespace kiln::backend::cuda {

namespace {

constexpr int64_t k_uid_x = 1, k_uid_w = 2, k_uid_y = 3, k_uid_bias = 4, k_uid_z = 5;
// Virtual (never materialized) intermediates of a fused graph.
constexpr int64_t k_uid_conv_out = 100, k_uid_added = 101, k_uid_biased = 102;
// Engines asking for more scratch than this are passed over while others work
// (FFT engines can ask for gigabytes).
constexpr int64_t k_max_workspace = int64_t{512} << 20;

std::string dims_str(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

CudnnDesc tensor_desc(int64_t uid, cudnnDataType_t dt, const std::vector<int64_t>& dims,
                      const std::vector<int64_t>& strides, int64_t align, bool is_virtual = false) {
  CudnnDesc t(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  if (is_virtual) {
    const bool v = true;
    t.set(CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &v);
  }
  t.set_data_type(CUDNN_ATTR_TENSOR_DATA_TYPE, dt);
  t.set_int64s(CUDNN_ATTR_TENSOR_DIMENSIONS, dims);
  t.set_int64s(CUDNN_ATTR_TENSOR_STRIDES, strides);
  t.set_int64(CUDNN_ATTR_TENSOR_UNIQUE_ID, uid);
  t.set_int64(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, align);
  t.finalize("tensor descriptor");
  return t;
}

// The engine configs the heuristics of `mode` suggest, best first (none when
// the mode does not apply to the graph).
std::vector<CudnnDesc> engine_configs(const CudnnDesc& graph, cudnnBackendHeurMode_t mode) {
  std::vector<CudnnDesc> out;
  CudnnDesc heur(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
  heur.set_desc(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, graph);
  heur.set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
  if (heur.try_finalize() != CUDNN_STATUS_SUCCESS) return out;
  int64_t count = 0;
  if (cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count,
                               nullptr) != CUDNN_STATUS_SUCCESS ||
      count <= 0)
    return out;
  std::vector<cudnnBackendDescriptor_t> raw;
  for (int64_t i = 0; i < count; ++i) {
    out.emplace_back(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
    raw.push_back(out.back().get());
  }
  int64_t got = 0;
  KILN_CUDNN(cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, count,
                                      &got, raw.data()));
  out.resize(static_cast<size_t>(std::clamp<int64_t>(got, 0, count)));
  return out;
}

struct EngineInfo {
  int64_t index = -1;
  bool reduced_precision = false;  // TF32 tensor cores, down-converted inputs or reductions
  bool nondeterministic = false;
  bool runtime_compiled = false;
  bool known = false;
};

EngineInfo engine_info(const CudnnDesc& cfg) {
  EngineInfo info;
  CudnnDesc engine(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
  cudnnBackendDescriptor_t raw = engine.get();
  int64_t n = 0;
  if (cudnnBackendGetAttribute(cfg.get(), CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &n, &raw) !=
          CUDNN_STATUS_SUCCESS ||
      n != 1)
    return info;
  info.known = true;
  n = 0;
  if (cudnnBackendGetAttribute(engine.get(), CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &n, &info.index) !=
      CUDNN_STATUS_SUCCESS)
    info.index = -1;
  cudnnBackendNumericalNote_t notes[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
  n = 0;
  if (cudnnBackendGetAttribute(engine.get(), CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                               CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &n, notes) == CUDNN_STATUS_SUCCESS) {
    for (int64_t i = 0; i < std::min<int64_t>(n, CUDNN_NUMERICAL_NOTE_TYPE_COUNT); ++i) {
      switch (notes[i]) {
        case CUDNN_NUMERICAL_NOTE_TENSOR_CORE:
        case CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS:
        case CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION: info.reduced_precision = true; break;
        case CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC: info.nondeterministic = true; break;
        default: break;
      }
    }
  }
  cudnnBackendBehaviorNote_t behavior[CUDNN_BEHAVIOR_NOTE_TYPE_COUNT];
  n = 0;
  if (cudnnBackendGetAttribute(engine.get(), CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE, CUDNN_TYPE_BEHAVIOR_NOTE,
                               CUDNN_BEHAVIOR_NOTE_TYPE_COUNT, &n, behavior) == CUDNN_STATUS_SUCCESS) {
    for (int64_t i = 0; i < std::min<int64_t>(n, CUDNN_BEHAVIOR_NOTE_TYPE_COUNT); ++i)
      if (behavior[i] == CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION) info.runtime_compiled = true;
  }
  return info;
}

// Whether the strict pass takes the engine: fp32 problems must be computed in
// full fp32 (no TF32), results must be deterministic, and engines compiled at
// run time (seconds of NVRTC) wait for the relaxed pass.
bool strict_ok(const EngineInfo& e, const ConvProblem& p) {
  if (!e.known || e.nondeterministic || e.runtime_compiled) return false;
  if (p.data_type == CUDNN_DATA_FLOAT && e.reduced_precision) return false;
  return true;
}

bool runtime_fusion_allowed() {
  static const bool allowed = env_flag("KILN_CUDNN_RUNTIME_FUSION", false);
  return allowed;
}

// A pointwise operation out = mode(in [, b]) computed in float.
CudnnDesc pointwise_op(cudnnPointwiseMode_t mode, const CudnnDesc& in, const CudnnDesc* b, const CudnnDesc& out,
                       std::vector<CudnnDesc>& keep) {
  CudnnDesc pw(CUDNN_BACKEND_POINTWISE_DESCRIPTOR);
  pw.set(CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode);
  pw.set_data_type(CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_DATA_FLOAT);
  pw.finalize("pointwise descriptor");
  CudnnDesc op(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR);
  op.set_desc(CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, pw);
  op.set_desc(CUDNN_ATTR_OPERATION_POINTWISE_XDESC, in);
  if (b) op.set_desc(CUDNN_ATTR_OPERATION_POINTWISE_BDESC, *b);
  op.set_desc(CUDNN_ATTR_OPERATION_POINTWISE_YDESC, out);
  op.finalize("pointwise operation");
  keep.push_back(std::move(pw));
  return op;
}

// The operation graph of the problem; `keep` receives the descriptors it
// references.
CudnnDesc operation_graph(cudnnHandle_t handle, const ConvProblem& p, std::vector<CudnnDesc>& keep) {
  const cudnnDataType_t compute = CUDNN_DATA_FLOAT;
  const bool fused = !p.backward_data && (p.fuse_add || p.fuse_bias || p.fuse_relu);
  CudnnDesc x = tensor_desc(k_uid_x, p.data_type, p.x_dims, p.x_strides, p.align_x);
  CudnnDesc w = tensor_desc(k_uid_w, p.data_type, p.w_dims, p.w_strides.empty() ? packed_strides(p.w_dims) : p.w_strides,
                           p.align_w);
  // Fused: the convolution writes a virtual float tensor the pointwise ops read.
  CudnnDesc y = fused ? tensor_desc(k_uid_conv_out, CUDNN_DATA_FLOAT, p.y_dims, p.y_strides, 16, true)
                      : tensor_desc(k_uid_y, p.data_type, p.y_dims, p.y_strides, p.align_y);

  CudnnDesc conv(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR);
  const int64_t spatial = static_cast<int64_t>(p.strides.size());
  const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  conv.set_data_type(CUDNN_ATTR_CONVOLUTION_COMP_TYPE, compute);
  conv.set(CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode);
  conv.set_int64(CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, spatial);
  conv.set_int64s(CUDNN_ATTR_CONVOLUTION_DILATIONS, p.dilations);
  conv.set_int64s(CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, p.strides);
  conv.set_int64s(CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, p.pre_pads);
  conv.set_int64s(CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, p.post_pads);
  conv.finalize("convolution descriptor");

  // alpha/beta are float for a float compute type.
  const float alpha = 1.f, beta = p.accumulate ? 1.f : 0.f;
  CudnnDesc op;
  if (!p.backward_data) {
    op = CudnnDesc(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR);
    op.set_desc(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, x);
    op.set_desc(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, w);
    op.set_desc(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, y);
    op.set_desc(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, conv);
    op.set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT, 1, &alpha);
    op.set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT, 1, &beta);
  } else {
    op = CudnnDesc(CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR);
    op.set_desc(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY, x);
    op.set_desc(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W, w);
    op.set_desc(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX, y);
    op.set_desc(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC, conv);
    op.set(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA, CUDNN_TYPE_FLOAT, 1, &alpha);
    op.set(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA, CUDNN_TYPE_FLOAT, 1, &beta);
  }
  op.finalize(p.backward_data ? "convolution backward data operation" : "convolution forward operation");

  std::vector<cudnnBackendDescriptor_t> ops = {op.get()};
  std::vector<CudnnDesc> fused_ops;
  if (fused) {
    // conv_out [+ z] [+ bias] [-> relu] -> y: each stage writes a virtual
    // float tensor, the last one y. The stages' tensors live in a deque
    // (stable addresses) until the graph is made.
    std::deque<CudnnDesc> tensors;
    const CudnnDesc& out = tensors.emplace_back(tensor_desc(k_uid_y, p.data_type, p.y_dims, p.y_strides, p.align_y));
    const int stages = int{p.fuse_add} + int{p.fuse_bias} + int{p.fuse_relu};
    int done = 0;
    const CudnnDesc* cur = &y;
    // Adds one pointwise stage reading cur [and b]; the next reads its output.
    auto stage = [&](cudnnPointwiseMode_t mode, const CudnnDesc* b, int64_t virtual_uid) {
      const CudnnDesc& next = ++done == stages ? out
                                                : tensors.emplace_back(tensor_desc(
                                                      virtual_uid, CUDNN_DATA_FLOAT, p.y_dims, p.y_strides, 16, true));
      fused_ops.push_back(pointwise_op(mode, *cur, b, next, keep));
      cur = &next;
    };
    if (p.fuse_add)
      stage(CUDNN_POINTWISE_ADD,
            &tensors.emplace_back(tensor_desc(k_uid_z, p.data_type, p.y_dims, p.y_strides, p.align_z)), k_uid_added);
    if (p.fuse_bias) {
      std::vector<int64_t> b_dims(p.y_dims.size(), 1), b_strides(p.y_dims.size(), 1);
      b_dims[1] = p.y_dims[1];
      b_strides[0] = p.y_dims[1];
      stage(CUDNN_POINTWISE_ADD, &tensors.emplace_back(tensor_desc(k_uid_bias, p.data_type, b_dims, b_strides, 16)),
            k_uid_biased);
    }
    if (p.fuse_relu) stage(CUDNN_POINTWISE_RELU_FWD, nullptr, 0);
    for (CudnnDesc& t : tensors) keep.push_back(std::move(t));
    for (const CudnnDesc& f : fused_ops) ops.push_back(f.get());
  }
  CudnnDesc graph(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
  graph.set(CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, static_cast<int64_t>(ops.size()), ops.data());
  graph.set_handle(CUDNN_ATTR_OPERATIONGRAPH_HANDLE, handle);
  graph.finalize("operation graph");

  keep.push_back(std::move(x));
  keep.push_back(std::move(w));
  keep.push_back(std::move(y));
  keep.push_back(std::move(conv));
  keep.push_back(std::move(op));
  for (CudnnDesc& f : fused_ops) keep.push_back(std::move(f));
  return graph;
}

// Finalizes an execution plan for `cfg`; false when the engine refuses.
bool try_plan(cudnnHandle_t handle, const CudnnDesc& cfg, ConvPlan& out, int64_t max_workspace) {
  CudnnDesc plan(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
  plan.set_handle(CUDNN_ATTR_EXECUTION_PLAN_HANDLE, handle);
  plan.set_desc(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, cfg);
  if (plan.try_finalize() != CUDNN_STATUS_SUCCESS) return false;
  int64_t ws = 0, n = 0;
  if (cudnnBackendGetAttribute(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &n, &ws) !=
          CUDNN_STATUS_SUCCESS ||
      ws < 0 || ws > max_workspace)
    return false;
  out.plan = std::move(plan);
  out.workspace = ws;
  return true;
}

std::unique_ptr<ConvPlan> build_plan(cudnnHandle_t handle, const ConvProblem& p) {
  auto out = std::make_unique<ConvPlan>();
  CudnnDesc graph = operation_graph(handle, p, out->keep);
  // Measuring switches (README): heuristics mode B (slower to ask, sometimes
  // a better order) and configs of one engine with other knobs (tile sizes,
  // splits) as candidates of their own instead of only distinct engines.
  static const bool mode_b = env_flag("KILN_CUDNN_HEUR_B", false), knobs = env_flag("KILN_CUDNN_KNOBS", false);
  std::vector<CudnnDesc> configs = engine_configs(graph, mode_b ? CUDNN_HEUR_MODE_B : CUDNN_HEUR_MODE_A);
  for (CudnnDesc& c : engine_configs(graph, CUDNN_HEUR_MODE_FALLBACK)) configs.push_back(std::move(c));
  std::vector<EngineInfo> infos;
  for (const CudnnDesc& c : configs) infos.push_back(engine_info(c));

  // Strict pass first; the relaxed one (any engine, any workspace) only when
  // nothing strict finalizes. Candidate k (cudnn, cudnn_alt, cudnn_alt2, ...)
  // takes the k-th distinct engine that finalizes.
  const bool fused = p.fuse_add || p.fuse_bias || p.fuse_relu;
  for (const bool strict : {true, false}) {
    // Fused graphs: precompiled engines only (see ConvProblem), unless
    // KILN_CUDNN_RUNTIME_FUSION=1 accepts NVRTC-compiled ones (seconds per
    // distinct convolution, paid again by every process).
    if (fused && !strict && !runtime_fusion_allowed()) break;
    // Plans of distinct engines in the heuristics' order, up to the one
    // asked for (candidate k times the k-th); fewer engines: the last found.
    std::vector<std::pair<std::unique_ptr<ConvPlan>, size_t>> found;
    for (size_t i = 0; i < configs.size() && static_cast<int>(found.size()) <= p.pick; ++i) {
      if (strict && !strict_ok(infos[i], p)) continue;
      bool seen = false;
      for (const auto& f : found) seen |= !knobs && infos[f.second].index == infos[i].index;
      if (seen) continue;
      auto cand = std::make_unique<ConvPlan>();
      if (!try_plan(handle, configs[i], *cand, strict ? k_max_workspace : INT64_MAX)) continue;
      cand->engine = "engine " + std::to_string(infos[i].index);
      found.emplace_back(std::move(cand), i);
    }
    if (found.empty()) continue;
    auto& [chosen, chosen_i] = found[std::min<size_t>(static_cast<size_t>(p.pick), found.size() - 1)];
    out->plan = std::move(chosen->plan);
    out->workspace = chosen->workspace;
    out->engine = chosen->engine;
    // The graph and the chosen config stay alive with the plan.
    out->keep.push_back(std::move(graph));
    out->keep.push_back(std::move(configs[chosen_i]));
    return out;
  }
  return nullptr;
}

}  // namespace

bool cudnn_fusion_enabled() {
  static const bool enabled = env_flag("KILN_CUDNN_FUSION", true);
  return enabled;
}

std::vector<int64_t> packed_strides(const std::vector<int64_t>& dims) {
  std::vector<int64_t> st(dims.size(), 1);
  for (size_t d = dims.size(); d-- > 1;) st[d - 1] = st[d] * std::max<int64_t>(dims[d], 1);
  return st;
}

std::vector<int64_t> nhwc_strides(const std::vector<int64_t>& d) {
  return {d[1] * d[2] * d[3], 1, d[3] * d[1], d[1]};
}

std::string ConvProblem::str() const {
  const char* dt = data_type == CUDNN_DATA_FLOAT ? "f32" : data_type == CUDNN_DATA_HALF ? "f16" : "bf16";
  return std::string(backward_data ? "backward-data " : "") + dt + " x " + dims_str(x_dims) + " w " +
         dims_str(w_dims) + " -> y " + dims_str(y_dims) + " (strides " + dims_str(y_strides) + "), pads " +
         dims_str(pre_pads) + "/" + dims_str(post_pads) + ", strides " + dims_str(strides) + ", dilations " +
         dims_str(dilations) + (accumulate ? ", beta 1" : "") + (fuse_add ? ", +z" : "") + (fuse_bias ? ", +bias" : "") + (fuse_relu ? ", relu" : "") +
         (x_strides.size() == 4 && x_strides[1] == 1 ? ", nhwc" : "");
}

namespace {

// A pool of plans per (device, problem) instead of plans per kernel: a
// kernel takes a plan from the pool for its lifetime and gives it back when
// it is destroyed, so a context made later (a CUDA-graph cache miss after an
// eviction, a new input shape, another Session) finds plans built instead of
// paying cuDNN's heuristics and finalization again (tens of milliseconds a
// network). A plan is held by one kernel at a time, and a kernel runs on one
// thread at a time, so no plan is ever executed concurrently (cuDNN does not
// promise that every engine's plan is thread-safe; PyTorch keeps its cached
// plans per thread for that reason). Plans are described and finalized on a
// handle of their own per device that is never destroyed (they outlive the
// contexts whose handles first asked for them) and run on the calling
// stream's handle. The pools are never freed: a process keeps as many plans
// per problem as it once had kernels alive for it.
struct PlanPool {
  std::vector<ConvPlan*> idle;
  bool refused = false;  // a fused problem no engine finalizes: remembered
};

struct PlanStore {
  std::mutex mutex;
  std::vector<std::tuple<int, ConvProblem, PlanPool>> pools;
  std::deque<std::unique_ptr<ConvPlan>> plans;  // every plan ever built
  std::mutex handles_mutex;
  std::map<int, cudnnHandle_t> handles;

  PlanPool& pool(int device, const ConvProblem& p) {  // under `mutex`
    for (auto& [d, problem, pool] : pools)
      if (d == device && problem == p) return pool;
    pools.emplace_back(device, p, PlanPool{});
    return std::get<2>(pools.back());
  }
};

PlanStore& plan_store() {
  static auto* store = new PlanStore;  // never destroyed: no cuDNN call during static teardown
  return *store;
}

cudnnHandle_t plan_handle(int device) {
  PlanStore& st = plan_store();
  {
    std::lock_guard<std::mutex> lock(st.handles_mutex);
    if (auto it = st.handles.find(device); it != st.handles.end()) return it->second;
  }
  CaptureGate::Exclusive gate;  // cudnnCreate allocates (capture_gate.h); taken before the lock
  std::lock_guard<std::mutex> lock(st.handles_mutex);
  if (auto it = st.handles.find(device); it != st.handles.end()) return it->second;
  cudnnHandle_t h = nullptr;
  KILN_CUDNN(cudnnCreate(&h));
  st.handles[device] = h;
  return h;
}

// A plan of (device, p) from its pool, or built (outside the lock). Null for
// a fused problem no engine takes (logged once); for others build_plan's
// null (the caller reports it).
ConvPlan* acquire_plan(int device, const ConvProblem& p, bool fused) {
  PlanStore& st = plan_store();
  {
    std::lock_guard<std::mutex> lock(st.mutex);
    PlanPool& pool = st.pool(device, p);
    if (pool.refused) return nullptr;
    if (!pool.idle.empty()) {
      ConvPlan* plan = pool.idle.back();
      pool.idle.pop_back();
      return plan;
    }
  }
  const cudnnHandle_t handle = plan_handle(device);
  std::unique_ptr<ConvPlan> plan;
  if (!fused) {
    plan = build_plan(handle, p);
  } else {
    std::string why;
    try {
      plan = build_plan(handle, p);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::OutOfMemory) throw;  // transient: not a verdict on the problem
      plan.reset();  // a graph cuDNN rejects while being described: not fusable here
      why = std::string(": ") + e.what();
    }
    log_debug("cuDNN " + p.str() + (plan ? " runs fused on " + plan->engine : " has no fused engine" + why));
  }
  std::lock_guard<std::mutex> lock(st.mutex);
  if (!plan) {
    if (fused) st.pool(device, p).refused = true;
    return nullptr;
  }
  st.plans.push_back(std::move(plan));
  return st.plans.back().get();
}

void release_plan(int device, const ConvProblem& p, ConvPlan* plan) {
  PlanStore& st = plan_store();
  std::lock_guard<std::mutex> lock(st.mutex);
  st.pool(device, p).idle.push_back(plan);
}

int current_device() {
  int device = 0;
  KILN_CUDA(cudaGetDevice(&device));
  return device;
}

}  // namespace

ConvPlanCache::~ConvPlanCache() {
  for (const Held& h : m_plans)
    if (h.plan) release_plan(h.device, h.problem, h.plan);
}

const ConvPlan* ConvPlanCache::find_or_acquire(const ConvProblem& p, bool fused) {
  for (const Held& h : m_plans)
    if (h.problem == p) return h.plan;
  const int device = current_device();
  ConvPlan* plan = acquire_plan(device, p, fused);
  if (plan || fused) m_plans.push_back(Held{device, p, plan});  // a refused fused problem is remembered
  return plan;
}

const ConvPlan& ConvPlanCache::get(const ConvProblem& p, const ir::Node& node) {
  const ConvPlan* plan = find_or_acquire(p, false);
  if (!plan)
    throw Error(ErrorCode::Unsupported, node.label() + ": no cuDNN engine configuration finalizes for " + p.str());
  return *plan;
}

const ConvPlan* ConvPlanCache::try_get(const ConvProblem& p) { return find_or_acquire(p, true); }

void execute_conv(cudnnHandle_t handle, const ConvPlan& plan, const void* x, const void* w, void* y,
                  void* workspace, const void* bias, const void* z) {
  CudnnDesc pack(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
  void* ptrs[5] = {const_cast<void*>(x), const_cast<void*>(w), y};
  int64_t uids[5] = {k_uid_x, k_uid_w, k_uid_y};
  int64_t n = 3;
  if (bias) {
    ptrs[n] = const_cast<void*>(bias);
    uids[n++] = k_uid_bias;
  }
  if (z) {
    ptrs[n] = const_cast<void*>(z);
    uids[n++] = k_uid_z;
  }
  pack.set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, n, ptrs);
  pack.set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, n, uids);
  pack.set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace);
  pack.finalize("variant pack");
  KILN_CUDNN(cudnnBackendExecute(handle, plan.plan.get(), pack.get()));
}

}  // namespace kiln::backend::cuda
