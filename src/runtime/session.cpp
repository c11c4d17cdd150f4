#include "kiln/session.h"

#include <list>
#include <mutex>

#include "backends/backend.h"
#include "backends/cpu/cpu_threads.h"
#include "builder/specialize.h"
#include "engine/engine_data.h"
#include "kiln/error.h"
#include "runtime/executor.h"

namespace kiln {

namespace {

std::string signature(const std::vector<Tensor>& inputs) {
  std::string s;
  for (const Tensor& t : inputs) s += std::string(dtype_name(t.dtype())) + shape_str(t.shape()) + ";";
  return s;
}

int optimization_level(const detail::EngineData& e) {
  for (const auto& f : e.config)
    if (f.rfind("optimization_level=", 0) == 0) return std::stoi(f.substr(19));
  return 3;
}

}  // namespace

struct Session::Impl {
  Engine engine;
  SessionOptions options;
  backend::Backend* backend = nullptr;
  std::mutex mutex;
  // Executors per input signature, most recently used first.
  std::list<std::pair<std::string, std::unique_ptr<runtime::Executor>>> plans;

  std::vector<Tensor> bind(const std::map<std::string, Tensor>& named) const;
  runtime::Executor& executor_for(const std::vector<Tensor>& inputs);
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
  std::vector<Tensor> out;
  for (const TensorSpec& s : specs) {
    auto it = named.find(s.name);
    if (it == named.end()) throw Error(ErrorCode::InvalidArgument, "input '" + s.name + "' is missing");
    const Tensor& t = it->second;
    const std::string where = "input '" + s.name + "'";
    if (!t.defined()) throw Error(ErrorCode::InvalidArgument, where + " is an empty tensor");
    if (t.device().kind != DeviceKind::CPU)
      throw Error(ErrorCode::InvalidArgument, where + ": device tensors are not accepted by a " + engine.backend() + " session yet");
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

runtime::Executor& Session::Impl::executor_for(const std::vector<Tensor>& inputs) {
  const std::string sig = signature(inputs);
  for (auto it = plans.begin(); it != plans.end(); ++it) {
    if (it->first == sig) {
      plans.splice(plans.begin(), plans, it);
      return *plans.front().second;
    }
  }
  const auto& data = *engine.data();
  std::unique_ptr<runtime::Executor> ex;
  // An alias of the engine's graph: the engine outlives the executor.
  std::shared_ptr<const ir::Graph> engine_graph(engine.data(), &data.graph);
  if (data.plan_valid) {
    ex = std::make_unique<runtime::Executor>(engine_graph, data.plan, *backend);
  } else {
    std::map<std::string, Shape> shapes;
    for (size_t i = 0; i < inputs.size(); ++i) shapes[engine.inputs()[i].name] = inputs[i].shape();
    builder::Specialized s = builder::specialize(data.graph, shapes, optimization_level(data), engine.backend());
    ex = std::make_unique<runtime::Executor>(std::make_shared<const ir::Graph>(std::move(s.graph)),
                                             std::move(s.plan), *backend);
  }
  if (options.profile) ex->enable_profile();
  plans.emplace_front(sig, std::move(ex));
  while (plans.size() > std::max<size_t>(options.max_shape_plans, 1)) plans.pop_back();
  return *plans.front().second;
}

Session::Session(Engine engine, SessionOptions options) : m_impl(std::make_unique<Impl>()) {
  if (!engine.valid()) throw Error(ErrorCode::InvalidArgument, "Session needs a built or loaded engine");
  if (engine.needs_refit())
    throw Error(ErrorCode::InvalidArgument, "engine was stored without weights; refit it from the model first");
  m_impl->backend = &backend::backend_by_name(engine.backend());
  if (m_impl->backend->fingerprint() != engine.fingerprint())
    throw Error(ErrorCode::Incompatible, "engine was built for '" + engine.fingerprint() + "', this machine is '" +
                                             m_impl->backend->fingerprint() + "'; rebuild it");
  m_impl->engine = std::move(engine);
  m_impl->options = options;
}

Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

const Engine& Session::engine() const { return m_impl->engine; }

std::vector<NodeProfile> Session::profile() const {
  std::lock_guard<std::mutex> lock(m_impl->mutex);
  return m_impl->plans.empty() ? std::vector<NodeProfile>{} : m_impl->plans.front().second->profile();
}

void Session::reset_profile() {
  std::lock_guard<std::mutex> lock(m_impl->mutex);
  for (auto& [sig, ex] : m_impl->plans) ex->reset_profile();
}

std::vector<NamedTensor> Session::run(const std::map<std::string, Tensor>& inputs) {
  std::lock_guard<std::mutex> lock(m_impl->mutex);
  backend::CpuThreadScope threads(m_impl->options.threads);
  std::vector<Tensor> bound = m_impl->bind(inputs);
  std::vector<Tensor> outs = m_impl->executor_for(bound).run(bound);
  std::vector<NamedTensor> named;
  const auto& specs = m_impl->engine.outputs();
  for (size_t i = 0; i < outs.size(); ++i) named.push_back({specs[i].name, std::move(outs[i])});
  return named;
}

}  // namespace kiln
