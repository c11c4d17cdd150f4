#include "backends/backend.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>

#include "backends/builtin.h"
#include "backends/transfer.h"
#include "kiln/error.h"

namespace kiln::backend {

namespace {
struct ClockMarker final : Marker {
  std::chrono::steady_clock::time_point at = std::chrono::steady_clock::now();
};
}  // namespace

std::unique_ptr<Marker> Stream::mark() { return std::make_unique<ClockMarker>(); }

double Stream::elapsed_ms(const Marker& from, const Marker& to) {
  const auto* a = dynamic_cast<const ClockMarker*>(&from);
  const auto* b = dynamic_cast<const ClockMarker*>(&to);
  if (!a || !b) throw Error(ErrorCode::Internal, "markers of another stream");
  return std::chrono::duration<double, std::milli>(b->at - a->at).count();
}

double Backend::time_ms(Stream& stream, const std::function<void()>& work) {
  const auto t0 = std::chrono::steady_clock::now();
  work();
  stream.synchronize();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

bool Backend::supports(const ir::Graph&, const ir::Node& node, std::string* why) const {
  if (!node.domain.empty() && node.domain != "ai.onnx" && node.domain != "com.kiln") {
    if (why) *why = "domain '" + node.domain + "' has no kernels on " + name();
    return false;
  }
  if (!kernels().find(node.op_type)) {
    if (why) *why = "no " + name() + " kernel for " + node.op_type;
    return false;
  }
  return true;
}

void Backend::begin_capture(Stream&) {
  throw Error(ErrorCode::Unsupported, name() + " backend cannot capture runs");
}

std::unique_ptr<Capture> Backend::end_capture(Stream&) {
  throw Error(ErrorCode::Unsupported, name() + " backend cannot capture runs");
}

Tensor Backend::empty(DataType dtype, const Shape& shape, Stream* stream) {
  if (!dtype_is_supported(dtype))
    throw Error(ErrorCode::Unsupported, "cannot allocate a tensor of dtype " + std::string(dtype_name(dtype)));
  if (device().is_host()) return Tensor::empty(dtype, shape);
  const int64_t n = shape_numel(shape);
  if (static_cast<uint64_t>(n) > (uint64_t{1} << 62) / std::max<size_t>(dtype_size(dtype), 1))
    throw Error(ErrorCode::OutOfMemory, "tensor of shape " + shape_str(shape) + " is too large to allocate");
  const size_t bytes = std::max<size_t>(static_cast<size_t>(n) * dtype_size(dtype), 1);
  Allocator* a = &allocator();
  if (stream) {
    void* p = a->allocate_async(bytes, *stream);
    return Tensor::wrap(p, dtype, shape, device(),
                        std::shared_ptr<void>(p, [a, stream](void* q) { a->deallocate_async(q, *stream); }));
  }
  void* p = a->allocate(bytes);
  return Tensor::wrap(p, dtype, shape, device(), std::shared_ptr<void>(p, [a](void* q) { a->deallocate(q); }));
}

namespace {

struct Registry {
  // Recursive: a backend's constructor may ask for another (the CPU's).
  std::recursive_mutex mutex;
  std::map<std::string, BackendFactory> factories;
  std::map<std::pair<std::string, int>, std::unique_ptr<Backend>> instances;
};

Registry& registry() {
  static Registry* r = [] {
    auto* reg = new Registry;  // never destroyed: backends outlive static destructors of their users
    register_builtin_backends([reg](const std::string& name, BackendFactory f) { reg->factories[name] = std::move(f); });
    return reg;
  }();
  return *r;
}

}  // namespace

void register_backend(const std::string& name, BackendFactory factory) {
  Registry& r = registry();
  std::lock_guard<std::recursive_mutex> lock(r.mutex);
  r.factories[name] = std::move(factory);
  for (auto it = r.instances.begin(); it != r.instances.end();)
    it = it->first.first == name ? r.instances.erase(it) : std::next(it);
}

Backend& backend_for(const Device& device) {
  Registry& r = registry();
  const std::string name(device_kind_name(device.kind));
  std::lock_guard<std::recursive_mutex> lock(r.mutex);
  auto key = std::make_pair(name, device.index);
  if (auto it = r.instances.find(key); it != r.instances.end()) return *it->second;
  auto f = r.factories.find(name);
  if (f == r.factories.end())
    throw Error(ErrorCode::Unsupported, "backend '" + name + "' is not built into this kiln");
  std::unique_ptr<Backend> b = f->second(device.index);
  Backend& ref = *b;
  r.instances.emplace(key, std::move(b));
  return ref;
}

Backend& backend_for(const std::string& device) { return backend_for(Device::parse(device)); }

bool backend_registered(const std::string& name) {
  Registry& r = registry();
  std::lock_guard<std::recursive_mutex> lock(r.mutex);
  return r.factories.count(name) > 0;
}

Backend& host_backend() { return backend_for(Device{}); }

bool writes_host(const ir::Node& n, const Backend& b) { return b.device().is_host() || writes_host_always(n); }

std::vector<Tensor> run_node(Backend& backend, Kernel& kernel, const ir::Graph& graph, const ir::Node& node,
                             const std::vector<const Tensor*>& inputs, Stream* stream,
                             const KernelContext::AllocFn& alloc) {
  std::vector<Tensor> outs(node.outputs.size());
  Backend& out_backend = writes_host(node, backend) ? host_backend() : backend;
  KernelContext ctx(node, graph.opset(node.domain), inputs, outs,
                    alloc ? alloc : [&](size_t, DataType dt, const Shape& s) { return out_backend.empty(dt, s); },
                    stream);
  kernel.run(ctx);
  return outs;
}

}  // namespace kiln::backend
