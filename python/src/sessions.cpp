// Building, compiling through a cache, Sessions, CUDA-graph caches and the
// process-wide runtime switches.
#include <pybind11/stl/filesystem.h>

#include <chrono>
#include <mutex>

#include "backends/backend.h"
#include "common.h"
#include "kiln/builder.h"
#include "kiln/compile.h"
#include "kiln/error.h"
#include "kiln/graph_cache.h"
#include "kiln/session.h"

namespace kiln::python {


namespace {

// Only the switches compile() was asked for reach the wrapped cache: the
// seeds' reuse_cached_engines / cache_built_engines.
class GatedCache final : public EngineCache {
 public:
  GatedCache(std::shared_ptr<EngineCache> inner, bool reuse, bool store)
      : m_inner(std::move(inner)), m_reuse(reuse), m_store(store) {}
  void save(const std::string& h, const std::vector<uint8_t>& b) override {
    if (m_store) m_inner->save(h, b);
  }
  std::optional<std::vector<uint8_t>> load(const std::string& h) override {
    return m_reuse ? m_inner->load(h) : std::nullopt;
  }
  void discard(const std::string& h) override {
    if (m_reuse) m_inner->discard(h);
  }
  std::unique_ptr<BuildLock> lock_for_build(const std::string& h, std::chrono::milliseconds t) override {
    return m_reuse && m_store ? m_inner->lock_for_build(h, t) : nullptr;
  }
  std::optional<std::filesystem::path> local_dir() const override {
    return m_reuse && m_store ? m_inner->local_dir() : std::nullopt;
  }

 private:
  std::shared_ptr<EngineCache> m_inner;
  bool m_reuse, m_store;
};

// `cache` behind the switches asked for: itself when both are on, none when neither.
std::shared_ptr<EngineCache> gate(std::shared_ptr<EngineCache> cache, bool reuse, bool store) {
  if (!cache || !(reuse || store)) return nullptr;
  return reuse && store ? cache : std::make_shared<GatedCache>(std::move(cache), reuse, store);
}

// The default OutputAllocator: one growing buffer per output, reused by the
// next run (outputs alias them until then, as TensorRT's allocator's do).
class BufferOutputAllocator final : public OutputAllocator {
 public:
  void* reallocate(const std::string& name, size_t bytes, const Device& device) override {
    std::lock_guard<std::mutex> lock(m_mutex);
    Tensor& t = m_buffers[name];
    if (t.defined() && t.device() == device && t.nbytes() >= bytes) return t.raw();
    const Shape s{static_cast<int64_t>(std::max<size_t>(bytes, 1))};
    t = device.is_host() ? Tensor::empty(DataType::UInt8, s) : backend::backend_for(device).empty(DataType::UInt8, s);
    return t.raw();
  }
  void notify_shape(const std::string& name, const Shape& shape) override {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_shapes[name] = shape;
  }
  std::map<std::string, Shape> shapes() const {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_shapes;
  }
  size_t nbytes() const {
    std::lock_guard<std::mutex> lock(m_mutex);
    size_t n = 0;
    for (const auto& [_, t] : m_buffers) n += t.nbytes();
    return n;
  }

 private:
  mutable std::mutex m_mutex;
  std::map<std::string, Tensor> m_buffers;
  std::map<std::string, Shape> m_shapes;
};

GraphKey key_of(const std::vector<Shape>& shapes, const std::vector<std::string>& dtypes, const std::string& device) {
  GraphKey k;
  k.shapes = shapes;
  for (const auto& n : dtypes) k.dtypes.push_back(parse_dtype(n));
  k.device = Device::parse(device);
  return k;
}

py::tuple key_tuple(const GraphKey& k) {
  py::list shapes, dtypes;
  for (const auto& s : k.shapes) shapes.append(py::tuple(py::cast(s)));
  for (DataType d : k.dtypes) dtypes.append(std::string(dtype_name(d)));
  return py::make_tuple(py::tuple(shapes), py::tuple(dtypes), k.device.str());
}

py::dict stats_dict(const SessionStats& s) {
  py::dict d, last;
  last["enqueue_ms"] = s.last.enqueue_ms;
  last["device_ms"] = s.last.device_ms;
  last["total_ms"] = s.last.total_ms;
  d["device"] = s.device.str();
  d["contexts"] = s.contexts;
  d["device_bytes"] = s.device_bytes;
  d["weight_bytes"] = s.weight_bytes;
  d["runs"] = s.runs;
  d["context_misses"] = s.context_misses;
  d["last"] = last;
  d["graph_runs"] = s.graph_runs;
  d["last_capture_mode"] = std::string(capture_mode_name(s.last_capture_mode));
  return d;
}

}  // namespace

void register_sessions(py::module_& m) {
  py::class_<BuildConfig>(m, "BuildConfig", "kiln::BuildConfig: the settings that shape an engine.")
      .def(py::init<>())
      .def_property("precision", [](const BuildConfig& c) { return std::string(precision_name(c.precision)); },
                    [](BuildConfig& c, const std::string& p) { c.precision = parse_precision(p); })
      .def_property("profiles", [](const BuildConfig& c) {
        py::dict d;
        for (const auto& [name, r] : c.profiles)
          d[py::str(name)] = py::make_tuple(py::tuple(py::cast(r.min)), py::tuple(py::cast(r.opt)), py::tuple(py::cast(r.max)));
        return d;
      }, [](BuildConfig& c, const std::map<std::string, std::tuple<Shape, Shape, Shape>>& p) {
        c.profiles.clear();
        for (const auto& [name, r] : p) c.profiles[name] = {std::get<0>(r), std::get<1>(r), std::get<2>(r)};
      }, "input name -> (min, opt, max) shapes")
      .def_readwrite("optimization_level", &BuildConfig::optimization_level)
      .def_readwrite("weight_streaming", &BuildConfig::weight_streaming)
      .def_readwrite("weightless", &BuildConfig::weightless)
      .def_readwrite("device", &BuildConfig::device)
      .def_readwrite("cpu_threads", &BuildConfig::cpu_threads)
      .def("invariant_fields", &BuildConfig::invariant_fields);

  m.def("build_engine", [](const Model& model, BuildConfig config, TimingCache* timing) {
    config.timing_cache = timing;
    py::gil_scoped_release nogil;
    return build_engine(model, config);
  }, py::arg("model"), py::arg("config"), py::arg("timing_cache") = nullptr);

  m.def("compile", [](py::object model_or_path, BuildConfig config, std::shared_ptr<EngineCache> cache, bool reuse,
                      bool store, TimingCache* timing, double lock_timeout_s) {
    CompileOptions o;
    config.timing_cache = timing;
    o.build = std::move(config);
    o.lock_timeout = std::chrono::milliseconds(static_cast<int64_t>(lock_timeout_s * 1000));
    const std::shared_ptr<EngineCache> gated = gate(std::move(cache), reuse, store);
    o.cache = gated.get();
    CompileResult r;
    if (py::isinstance<Model>(model_or_path)) {
      const Model& model = model_or_path.cast<const Model&>();
      py::gil_scoped_release nogil;
      r = compile(model, o);
    } else {
      const std::string path = model_or_path.cast<std::filesystem::path>().string();
      py::gil_scoped_release nogil;
      r = compile_file(path, o);
    }
    return py::make_tuple(r.engine, r.cache_hit, r.key, r.seconds);
  }, py::arg("model_or_path"), py::arg("config"), py::arg("cache"), py::arg("reuse_cached_engines"),
        py::arg("cache_built_engines"), py::arg("timing_cache") = nullptr, py::arg("lock_timeout") = 600.0);

  m.def("gated_cache", &gate, py::arg("cache"), py::arg("reuse_cached_engines"), py::arg("cache_built_engines"));

  py::class_<OutputAllocator, std::shared_ptr<OutputAllocator>>(m, "NativeOutputAllocator");
  py::class_<BufferOutputAllocator, OutputAllocator, std::shared_ptr<BufferOutputAllocator>>(
      m, "OutputAllocator", "One growing buffer per output, reused by the next run (copy what you keep).")
      .def(py::init<>())
      .def("shapes", &BufferOutputAllocator::shapes, "The shape each output last had.")
      .def_property_readonly("nbytes", &BufferOutputAllocator::nbytes);

  py::class_<GraphCache, std::shared_ptr<GraphCache>>(m, "NativeGraphCache")
      .def(py::init<size_t, size_t>(), py::arg("capacity") = 8, py::arg("max_bytes") = 0)
      .def_property_readonly("capacity", &GraphCache::capacity)
      .def_property_readonly("max_bytes", &GraphCache::max_bytes)
      .def("size", &GraphCache::size)
      .def("keys", [](const GraphCache& c) {
        py::list out;
        for (const auto& k : c.keys()) out.append(key_tuple(k));
        return out;
      }, "(shapes, dtypes, device) of each entry, least recently used first")
      .def("contains", [](const GraphCache& c, const std::vector<Shape>& s, const std::vector<std::string>& d,
                          const std::string& dev) { return c.contains(key_of(s, d, dev)); })
      .def("remove", [](GraphCache& c, const std::vector<Shape>& s, const std::vector<std::string>& d,
                        const std::string& dev) {
        GraphKey k = key_of(s, d, dev);
        py::gil_scoped_release nogil;
        c.remove(k);
      })
      .def("purge", &GraphCache::purge, py::arg("n_oldest") = py::none(), py::call_guard<py::gil_scoped_release>())
      .def("entries", [](const GraphCache& c) {
        py::list out;
        for (const auto& e : c.entries()) {
          py::dict d;
          d["key"] = key_tuple(e.key);
          d["mode"] = std::string(capture_mode_name(e.mode));
          d["graphs"] = e.graphs;
          d["device_bytes"] = e.device_bytes;
          d["hits"] = e.hits;
          d["capture_ms"] = e.capture_ms;
          out.append(d);
        }
        return out;
      })
      .def("stats", [](const GraphCache& c) {
        const GraphCacheStats s = c.stats();
        py::dict d;
        d["hits"] = s.hits;
        d["misses"] = s.misses;
        d["captures"] = s.captures;
        d["capture_failures"] = s.capture_failures;
        d["evictions"] = s.evictions;
        d["capture_ms"] = s.capture_ms;
        d["device_bytes"] = s.device_bytes;
        return d;
      });
  m.def("establish_graph_cache", [](size_t n) { return establish_graph_cache(n); }, py::arg("default_capacity"),
        "A new cache when KILN_AUTO_CUDA_GRAPHS is true, else None.");

  py::class_<Session, std::shared_ptr<Session>>(m, "NativeSession")
      .def(py::init([](const Engine& engine, size_t max_shape_plans, const std::string& device, int threads,
                       bool profile, bool time_runs, bool pre_allocated_outputs,
                       std::shared_ptr<OutputAllocator> output_allocator, std::shared_ptr<GraphCache> graph_cache,
                       std::vector<int64_t> batch_buckets, std::vector<std::map<std::string, Shape>> capture_shapes) {
        SessionOptions o;
        o.max_shape_plans = max_shape_plans;
        o.device = device;
        o.threads = threads;
        o.profile = profile;
        o.time_runs = time_runs;
        o.pre_allocated_outputs = pre_allocated_outputs;
        o.output_allocator = std::move(output_allocator);
        o.graph_cache = std::move(graph_cache);
        o.batch_buckets = std::move(batch_buckets);
        o.capture_shapes = std::move(capture_shapes);
        py::gil_scoped_release nogil;
        return std::make_shared<Session>(engine, std::move(o));
      }), py::arg("engine"), py::arg("max_shape_plans") = 8, py::arg("device") = "", py::arg("threads") = -1,
           py::arg("profile") = false, py::arg("time_runs") = false, py::arg("pre_allocated_outputs") = false,
           py::arg("output_allocator") = nullptr, py::arg("graph_cache") = nullptr,
           py::arg("batch_buckets") = std::vector<int64_t>{},
           py::arg("capture_shapes") = std::vector<std::map<std::string, Shape>>{})
      .def("run", [](Session& s, py::dict inputs, bool disable_cuda_graphs, bool outputs_on_device, bool as_numpy) {
        std::map<std::string, Tensor> in;
        ProducerSync sync;
        const Device device = s.device();
        for (auto [k, v] : inputs) in[k.cast<std::string>()] = tensor_from_python(v, device, sync);
        RunOptions ro;
        ro.disable_cuda_graphs = disable_cuda_graphs;
        ro.outputs_on_device = outputs_on_device;
        std::vector<NamedTensor> out;
        {
          py::gil_scoped_release nogil;
          sync.wait();
          out = s.run(in, ro);
        }
        py::dict d;
        for (auto& o : out) {
          std::optional<py::object> a;
          if (as_numpy) a = tensor_to_numpy(o.tensor);
          d[py::str(o.name)] = a ? *a : py::cast(PyTensor{std::move(o.tensor)});
        }
        return d;
      }, py::arg("inputs"), py::arg("disable_cuda_graphs") = false, py::arg("outputs_on_device") = false,
         py::arg("as_numpy") = true)
      .def_property_readonly("engine", &Session::engine)
      .def_property_readonly("device", [](const Session& s) { return s.device().str(); })
      .def("stats", [](const Session& s) { return stats_dict(s.stats()); })
      .def("set_weight_streaming_budget", &Session::set_weight_streaming_budget, py::arg("bytes"),
           py::call_guard<py::gil_scoped_release>())
      .def("weight_streaming_budget", &Session::weight_streaming_budget)
      .def("streamable_weights_bytes", &Session::streamable_weights_bytes)
      .def("profile", [](const Session& s) {
        py::list out;
        for (const auto& p : s.profile()) {
          py::dict d;
          d["node"] = p.node;
          d["op_type"] = p.op_type;
          d["kernel"] = p.kernel;
          d["runs"] = p.runs;
          d["total_ms"] = p.total_ms;
          d["device"] = p.device;
          out.append(d);
        }
        return out;
      })
      .def("reset_profile", &Session::reset_profile);

  m.def("set_cuda_graphs_mode", &set_cuda_graphs_mode, py::arg("enabled"));
  m.def("cuda_graphs_mode", &cuda_graphs_mode);
  m.def("set_multi_device_safe_mode", &set_multi_device_safe_mode, py::arg("enabled"));
  m.def("multi_device_safe_mode", &multi_device_safe_mode);
}

}  // namespace kiln::python
