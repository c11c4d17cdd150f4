// Session: binding and checks, the per-shape contexts, running one context
// (copies in, run, copies out), inspection. Session::run is in session_run.cpp.
#include "kiln/session.h"

#include <algorithm>
#include <chrono>

#include "builder/specialize.h"
#include "engine/engine_data.h"
#include "kiln/error.h"
#include "runtime/session_impl.h"

namespace kiln {

namespace {

std::string signature(const std::vector<Tensor>& inputs) {
  std::string s;
  for (const Tensor& t : inputs) s += std::string(dtype_name(t.dtype())) + shape_str(t.shape()) + ";";
  return s;
}

}  // namespace


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

std::unique_ptr<runtime::ExecutionContext> Session::Impl::make_context(const std::vector<Tensor>& inputs) const {
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
  return ctx;
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
  std::unique_ptr<runtime::ExecutionContext> ctx = make_context(inputs);
  *made = true;
  contexts.emplace_front(sig, std::move(ctx));
  return *contexts.front().second;
}

std::vector<NamedTensor> Session::Impl::execute(runtime::ExecutionContext& ctx, const std::vector<Tensor>& inputs,
                                                const RunOptions& run_options, bool bind_inputs,
                                                std::chrono::steady_clock::time_point t0, RunTiming* timing) {
  using Clock = std::chrono::steady_clock;
  backend::Backend& be = *backend;
  backend::Stream& stream = ctx.stream();
  // Inputs already in the context's memory are read where they are (unless
  // a captured graph reads the fixed buffers); the rest are copied in.
  ctx.unbind_inputs();
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    if (bind_inputs && t.device() == be.device()) {
      ctx.bind_input(i, t);
    } else {
      Tensor buf = ctx.input_buffer(i);
      be.copy(buf.raw(), buf.device(), t.raw(), t.device(), t.nbytes(), stream);
    }
  }
  try {
    std::unique_ptr<backend::Marker> m0, m1;
    if (options.time_runs) m0 = stream.mark();
    ctx.run(multi_device_safe_mode() ? backend::DeviceSwitch::Serialized : backend::DeviceSwitch::Never);
    if (options.time_runs) m1 = stream.mark();
    std::vector<NamedTensor> named;
    const auto& specs = engine.outputs();
    const std::vector<Tensor>& outs = ctx.outputs();
    const Device want = run_options.outputs_on_device ? be.device() : Device{};
    for (size_t i = 0; i < outs.size(); ++i) {
      const Tensor& o = outs[i];
      Tensor dst;
      if (options.output_allocator) {
        void* p = options.output_allocator->reallocate(specs[i].name, o.nbytes(), want);
        if (!p && o.nbytes())
          throw Error(ErrorCode::OutOfMemory, "the output allocator gave no memory for '" + specs[i].name + "' (" +
                                                  std::to_string(o.nbytes()) + " bytes)");
        dst = Tensor::wrap(p, o.dtype(), o.shape(), want);
        options.output_allocator->notify_shape(specs[i].name, o.shape());
      } else if (options.pre_allocated_outputs) {
        // A buffer kept per context and output, not the arena slot itself: the
        // caller's tensor must stay valid after the context is evicted, and a
        // run-time (data-dependent) buffer is freed in its stream's order.
        dst = ctx.kept_output(i, o, run_options.outputs_on_device);
      } else {
        dst = run_options.outputs_on_device ? be.empty(o.dtype(), o.shape()) : Tensor::empty(o.dtype(), o.shape());
      }
      if (dst.raw() != o.raw()) be.copy(dst.raw(), dst.device(), o.raw(), o.device(), o.nbytes(), stream);
      named.push_back({specs[i].name, std::move(dst)});
    }
    timing->enqueue_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    stream.synchronize();
    timing->total_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (m0 && m1) timing->device_ms = stream.elapsed_ms(*m0, *m1);
    ctx.unbind_inputs();
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

void Session::Impl::publish(runtime::ExecutionContext& ctx, bool made, const RunTiming& timing, bool graph,
                            CaptureMode mode) {
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
  if (graph) {
    ++stats.graph_runs;
    stats.last_capture_mode = mode;
  }
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
  if (options.output_allocator && options.graph_cache)
    throw Error(ErrorCode::InvalidArgument,
                "an output allocator and a CUDA graph cache cannot be used together: data-dependent outputs are not "
                "captured; use one or the other");
  m_impl->stream_config.cpu_threads = options.threads >= 0 ? options.threads : engine.data()->cpu_threads;
  m_impl->stats.device = device;
  if (options.graph_cache) m_impl->graphs = options.graph_cache->impl();
  m_impl->engine = std::move(engine);
  m_impl->options = std::move(options);
  // Shapes to have ready: one run each on zeros captures them.
  for (const auto& shapes : m_impl->options.capture_shapes) {
    std::map<std::string, Tensor> zeros;
    for (const TensorSpec& s : m_impl->engine.inputs()) {
      auto it = shapes.find(s.name);
      if (it == shapes.end())
        throw Error(ErrorCode::InvalidArgument, "capture_shapes: no shape for input '" + s.name + "'");
      zeros[s.name] = Tensor::empty(s.dtype, it->second);
    }
    run(zeros);
  }
}

Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

const Engine& Session::engine() const { return m_impl->engine; }

Device Session::device() const { return m_impl->backend->device(); }

void Session::set_weight_streaming_budget(int64_t bytes) {
  if (!m_impl->weights)
    throw Error(ErrorCode::InvalidArgument, "weight streaming needs an engine for a GPU (this session runs on the cpu)");
  m_impl->weights->set_budget(bytes);
}

int64_t Session::weight_streaming_budget() const { return m_impl->weights ? m_impl->weights->budget() : -1; }

size_t Session::streamable_weights_bytes() const { return m_impl->weights ? m_impl->weights->streamable_bytes() : 0; }

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

}  // namespace kiln
