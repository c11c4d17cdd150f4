#include "kiln/session.h"

#include <chrono>
#include <list>
#include <mutex>

#include "backends/backend.h"
#include "builder/specialize.h"
#include "engine/engine_data.h"
#include "kiln/error.h"
#include "runtime/execution_context.h"
#include "runtime/weight_store.h"

namespace kiln {

namespace {

std::string signature(const std::vector<Tensor>& inputs) {
  std::string s;
  for (const Tensor& t : inputs) s += std::string(dtype_name(t.dtype())) + shape_str(t.shape()) + ";";
  return s;
}

}  // namespace

struct Session::Impl {
  Engine engine;
  SessionOptions options;
  backend::Backend* backend = nullptr;
  std::shared_ptr<runtime::WeightStore> weights;  // null on the host
  backend::StreamConfig stream_config;
  std::mutex run_mutex;
  // Contexts per input signature, most recently used first (under run_mutex).
  std::list<std::pair<std::string, std::unique_ptr<runtime::ExecutionContext>>> contexts;

  mutable std::mutex inspect_mutex;  // guards what follows: copies made after each run
  SessionStats stats;
  std::vector<NodeProfile> profile;

  std::vector<Tensor> bind(const std::map<std::string, Tensor>& named) const;
  runtime::ExecutionContext& context_for(const std::vector<Tensor>& inputs, bool* made);
  void publish(runtime::ExecutionContext& ctx, bool made, const RunTiming& timing);
};

std::vector<Tensor> Session::Impl::bind(const std::map<std::string, Tensor>& named) const {
  const auto& specs = engine.inputs();
  for (const auto& [name, t] : named) {
    bool known = false;
    for (const auto& s : specs) known |= s.name == name;
    if (!known) {
      std::string names;
      for (const auto& s : specs) names += (names.empty() ? "" : ", ") + s.name;
      throw Error(ErrorCode::InvalidArgument, "unknown input '" + name + "' (the engine's inputs: " + names + ")");
    }
  }
  const Device device = backend->device();
  std::vector<Tensor> out;
  for (const TensorSpec& s : specs) {
    auto it = named.find(s.name);
    if (it == named.end()) throw Error(ErrorCode::InvalidArgument, "input '" + s.name + "' is missing");
    const Tensor& t = it->second;
    const std::string where = "input '" + s.name + "'";
    if (!t.defined()) throw Error(ErrorCode::InvalidArgument, where + " is an empty tensor");
    if (!t.on_host() && !(t.device() == device))
      throw Error(ErrorCode::InvalidArgument, where + " is on " + t.device().str() + ", the session runs on " +
                                                  device.str() + "; pass host memory or memory of " + device.str());
    if (t.dtype() != s.dtype)
      throw Error(ErrorCode::InvalidArgument, where + ": dtype " + std::string(dtype_name(t.dtype())) +
                                                  ", the engine expects " + std::string(dtype_name(s.dtype)));
    if (t.shape().size() != s.shape.size())
      throw Error(ErrorCode::InvalidArgument, where + ": shape " + shape_str(t.shape()) + " has rank " +
                                                  std::to_string(t.rank()) + ", the engine expects rank " +
                                                  std::to_string(s.shape.size()));
    for (size_t d = 0; d < s.shape.size(); ++d) {
      const int64_t got = t.shape()[d];
      if (s.shape[d] >= 0 && got != s.shape[d])
        throw Error(ErrorCode::InvalidArgument, where + ": shape " + shape_str(t.shape()) + ", the engine expects " +
                                                    shape_str(s.shape) + " (dim " + std::to_string(d) + ")");
      if (!s.min.empty() && (got < s.min[d] || got > s.max[d]))
        throw Error(ErrorCode::InvalidArgument, where + ": dim " + std::to_string(d) + " = " + std::to_string(got) +
                                                    " is outside the profile range [" + std::to_string(s.min[d]) +
                                                    ", " + std::to_string(s.max[d]) + "]");
    }
    out.push_back(t);
  }
  return out;
}

runtime::ExecutionContext& Session::Impl::context_for(const std::vector<Tensor>& inputs, bool* made) {
  const std::string sig = signature(inputs);
  *made = false;
  for (auto it = contexts.begin(); it != contexts.end(); ++it) {
    if (it->first == sig) {
      contexts.splice(contexts.begin(), contexts, it);
      return *contexts.front().second;
    }
  }
  // Make room first: on a full device the oldest context's arenas go before
  // the new one asks for its own.
  while (!contexts.empty() && contexts.size() >= std::max<size_t>(options.max_shape_plans, 1)) contexts.pop_back();
  const auto& data = *engine.data();
  std::unique_ptr<runtime::ExecutionContext> ctx;
  // An alias of the engine's graph: the engine outlives the context.
  std::shared_ptr<const ir::Graph> engine_graph(engine.data(), &data.graph);
  if (data.plan_valid) {
    ctx = std::make_unique<runtime::ExecutionContext>(engine_graph, data.plan, *backend, weights, stream_config);
  } else {
    std::map<std::string, Shape> shapes;
    for (size_t i = 0; i < inputs.size(); ++i) shapes[engine.inputs()[i].name] = inputs[i].shape();
    builder::Specialized s = builder::specialize(data.graph, shapes, data.optimization_level, *backend);
    ctx = std::make_unique<runtime::ExecutionContext>(std::make_shared<const ir::Graph>(std::move(s.graph)),
                                                      std::move(s.plan), *backend, weights, stream_config);
  }
  if (options.profile) ctx->enable_profile();
  *made = true;
  contexts.emplace_front(sig, std::move(ctx));
  return *contexts.front().second;
}

void Session::Impl::publish(runtime::ExecutionContext& ctx, bool made, const RunTiming& timing) {
  size_t device_bytes = 0;
  for (const auto& [sig, c] : contexts) device_bytes += c->device_bytes();
  std::vector<NodeProfile> prof;
  if (options.profile) {
    ctx.collect_profile();
    prof = ctx.profile();
  }
  std::lock_guard<std::mutex> lock(inspect_mutex);
  ++stats.runs;
  if (made) ++stats.context_misses;
  stats.contexts = contexts.size();
  stats.device_bytes = device_bytes;
  stats.weight_bytes = weights ? weights->device_bytes() : 0;
  stats.last = timing;
  if (options.profile) profile = std::move(prof);
}

Session::Session(Engine engine, SessionOptions options) : m_impl(std::make_unique<Impl>()) {
  if (!engine.valid()) throw Error(ErrorCode::InvalidArgument, "Session needs a built or loaded engine");
  if (engine.needs_refit())
    throw Error(ErrorCode::InvalidArgument, "engine was stored without weights; refit it from the model first");
  const Device device = options.device.empty() ? Device::parse(engine.backend()) : Device::parse(options.device);
  if (std::string(device_kind_name(device.kind)) != engine.backend())
    throw Error(ErrorCode::InvalidArgument, "engine was built for " + engine.backend() + ", not for " + device.str());
  m_impl->backend = &backend::backend_for(device);
  if (m_impl->backend->fingerprint() != engine.fingerprint())
    throw Error(ErrorCode::Incompatible, "engine was built for '" + engine.fingerprint() + "', " + device.str() +
                                             " is '" + m_impl->backend->fingerprint() + "'; rebuild it");
  if (!device.is_host()) m_impl->weights = runtime::weights_for(engine.data(), *m_impl->backend);
  m_impl->stream_config.cpu_threads = options.threads >= 0 ? options.threads : engine.data()->cpu_threads;
  m_impl->stats.device = device;
  m_impl->engine = std::move(engine);
  m_impl->options = std::move(options);
}

Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

const Engine& Session::engine() const { return m_impl->engine; }

Device Session::device() const { return m_impl->backend->device(); }

SessionStats Session::stats() const {
  std::lock_guard<std::mutex> lock(m_impl->inspect_mutex);
  return m_impl->stats;
}

std::vector<NodeProfile> Session::profile() const {
  std::lock_guard<std::mutex> lock(m_impl->inspect_mutex);
  return m_impl->profile;
}

void Session::reset_profile() {
  std::lock_guard<std::mutex> run_lock(m_impl->run_mutex);
  for (auto& [sig, ctx] : m_impl->contexts) ctx->reset_profile();
  std::lock_guard<std::mutex> lock(m_impl->inspect_mutex);
  m_impl->profile.clear();
}

std::vector<NamedTensor> Session::run(const std::map<std::string, Tensor>& inputs, const RunOptions& options) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  std::lock_guard<std::mutex> lock(m_impl->run_mutex);
  Impl& im = *m_impl;
  backend::Backend& be = *im.backend;
  const std::vector<Tensor> bound = im.bind(inputs);
  bool made = false;
  runtime::ExecutionContext& ctx = im.context_for(bound, &made);
  backend::Stream& stream = ctx.stream();
  // Inputs already in the context's memory are read where they are; the rest
  // are copied into the fixed input buffers.
  ctx.unbind_inputs();
  for (size_t i = 0; i < bound.size(); ++i) {
    const Tensor& t = bound[i];
    if (t.device() == be.device()) {
      ctx.bind_input(i, t);
    } else {
      Tensor buf = ctx.input_buffer(i);
      be.copy(buf.raw(), buf.device(), t.raw(), t.device(), t.nbytes(), stream);
    }
  }
  try {
    std::unique_ptr<backend::Marker> m0, m1;
    if (im.options.time_runs) m0 = stream.mark();
    ctx.run();
    if (im.options.time_runs) m1 = stream.mark();
    std::vector<NamedTensor> named;
    const auto& specs = im.engine.outputs();
    const std::vector<Tensor>& outs = ctx.outputs();
    for (size_t i = 0; i < outs.size(); ++i) {
      const Tensor& o = outs[i];
      Tensor dst = options.outputs_on_device ? be.empty(o.dtype(), o.shape()) : Tensor::empty(o.dtype(), o.shape());
      be.copy(dst.raw(), dst.device(), o.raw(), o.device(), o.nbytes(), stream);
      named.push_back({specs[i].name, std::move(dst)});
    }
    RunTiming timing;
    timing.enqueue_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    stream.synchronize();
    timing.total_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (m0 && m1) timing.device_ms = stream.elapsed_ms(*m0, *m1);
    ctx.unbind_inputs();
    im.publish(ctx, made, timing);
    return named;
  } catch (...) {
    // Leave no work in flight that reads the caller's tensors.
    try {
      stream.synchronize();
    } catch (...) {
    }
    ctx.unbind_inputs();
    throw;
  }
}

}  // namespace kiln
