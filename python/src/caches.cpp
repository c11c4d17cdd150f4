// Engine caches: the built-in backends, a Python object as a backend (the
// seeds' BaseEngineCache subclasses), and the entry format's pack/unpack.
#include <pybind11/stl/filesystem.h>

#include <chrono>
#include <cstring>

#include "cache/cache_entry.h"
#include "common.h"
#include "kiln/compile.h"
#include "kiln/engine.h"
#include "kiln/engine_cache.h"
#include "kiln/error.h"

namespace kiln::python {

namespace {

using Blob = std::vector<uint8_t>;

py::bytes to_bytes(const Blob& b) { return py::bytes(reinterpret_cast<const char*>(b.data()), b.size()); }

Blob from_buffer(py::handle obj) {
  if (!PyObject_CheckBuffer(obj.ptr()))
    throw py::type_error("expected bytes (or a buffer), got " + py::str(obj.get_type()).cast<std::string>());
  py::buffer_info info = py::reinterpret_borrow<py::buffer>(obj).request();
  const auto* p = static_cast<const uint8_t*>(info.ptr);
  return Blob(p, p + info.size * info.itemsize);
}

// A RuntimeWarning from inside kiln: never lets an exception escape (warnings
// configured as errors are swallowed here; the caller's result stands).
void warn(const std::string& message) {
  if (PyErr_WarnEx(PyExc_RuntimeWarning, message.c_str(), 1) < 0) PyErr_Clear();
}

// A Python object with save(hash, blob) / load(hash) -> bytes | None (and
// optionally discard(hash)) as a kiln EngineCache. kiln may call it from any
// thread, with the GIL released; each call takes the GIL. An exception in the
// object is a miss (load) or a no-op (save, discard) plus a RuntimeWarning.
class PythonEngineCache final : public EngineCache {
 public:
  explicit PythonEngineCache(py::object obj) : m_obj(std::move(obj)) {}
  ~PythonEngineCache() override {
    py::gil_scoped_acquire gil;
    m_obj = py::object();
  }

  void save(const std::string& hash, const Blob& blob) override {
    py::gil_scoped_acquire gil;
    guarded("save", hash, [&] { m_obj.attr("save")(hash, to_bytes(blob)); });
  }

  std::optional<Blob> load(const std::string& hash) override {
    py::gil_scoped_acquire gil;
    std::optional<Blob> out;
    guarded("load", hash, [&] {
      py::object r = m_obj.attr("load")(hash);
      if (r.is_none()) return;
      Blob b = from_buffer(r);
      if (!b.empty()) out = std::move(b);  // empty is falsy: a miss, as the seeds' check() has it
    });
    return out;
  }

  void discard(const std::string& hash) override {
    py::gil_scoped_acquire gil;
    if (py::hasattr(m_obj, "discard")) guarded("discard", hash, [&] { m_obj.attr("discard")(hash); });
  }

  const py::object& object() const { return m_obj; }

 private:
  template <typename F>
  void guarded(const char* what, const std::string& hash, F&& f) {
    std::string error;
    try {
      f();
      return;
    } catch (py::error_already_set& e) {  // "Type: message", without the traceback what() carries
      error = py::str(e.type().attr("__name__")).cast<std::string>() + ": " + py::str(e.value()).cast<std::string>();
    } catch (const std::exception& e) {
      error = e.what();
    }
    const std::string type = py::str(m_obj.get_type().attr("__name__")).cast<std::string>();
    warn("kiln: engine cache " + type + "." + what + "(" + hash.substr(0, 16) + "...) raised " + error +
         (std::string(what) == "load" ? "; treated as a miss" : "; ignored"));
  }

  py::object m_obj;
};

// Tiers kept alive by the object that chains them.
class OwnedTiers final : public EngineCache {
 public:
  explicit OwnedTiers(std::vector<std::shared_ptr<EngineCache>> tiers)
      : m_tiers(std::move(tiers)), m_impl(raw(m_tiers)) {}
  void save(const std::string& h, const Blob& b) override { m_impl.save(h, b); }
  std::optional<Blob> load(const std::string& h) override { return m_impl.load(h); }
  void discard(const std::string& h) override { m_impl.discard(h); }
  std::unique_ptr<BuildLock> lock_for_build(const std::string& h, std::chrono::milliseconds t) override {
    return m_impl.lock_for_build(h, t);
  }
  std::optional<std::filesystem::path> local_dir() const override { return m_impl.local_dir(); }

 private:
  static std::vector<EngineCache*> raw(const std::vector<std::shared_ptr<EngineCache>>& v) {
    std::vector<EngineCache*> out;
    for (const auto& t : v) {
      if (!t) throw Error(ErrorCode::InvalidArgument, "TieredEngineCache: a tier is None");
      out.push_back(t.get());
    }
    return out;
  }
  std::vector<std::shared_ptr<EngineCache>> m_tiers;
  TieredEngineCache m_impl;
};

py::dict stats_dict(const EngineCacheStats& s) {
  py::dict d;
  d["entries"] = s.entries;
  d["bytes"] = s.bytes;
  d["temp_files"] = s.temp_files;
  d["temp_bytes"] = s.temp_bytes;
  d["hits"] = s.hits;
  d["misses"] = s.misses;
  d["errors"] = s.errors;
  d["saves"] = s.saves;
  d["evictions"] = s.evictions;
  d["skipped"] = s.skipped;
  return d;
}

// (engine bytes, input_names, output_names, input_specs, weights, needs_output_allocator),
// as kiln.CacheEntry holds them.
CacheEntry entry_of_fields(py::handle f) {
  py::tuple t = py::reinterpret_borrow<py::object>(f).cast<py::tuple>();
  if (t.size() != 6) throw Error(ErrorCode::InvalidArgument, "a cache entry has 6 fields");
  CacheEntry e;
  e.engine = from_buffer(t[0]);
  e.input_names = t[1].cast<std::vector<std::string>>();
  e.output_names = t[2].cast<std::vector<std::string>>();
  for (auto s : t[3]) {
    auto v = s.cast<py::tuple>();
    e.input_specs.push_back({v[0].cast<std::string>(), parse_dtype(v[1].cast<std::string>()), v[2].cast<Shape>(),
                             v[3].cast<Shape>(), v[4].cast<Shape>()});
  }
  for (auto w : t[4]) {
    auto v = w.cast<py::tuple>();
    e.weights.push_back({v[0].cast<std::string>(), parse_dtype(v[1].cast<std::string>()), v[2].cast<Shape>()});
  }
  e.needs_output_allocator = t[5].cast<bool>();
  return e;
}

py::tuple fields_of(const CacheEntry& e) {
  py::list specs, weights;
  for (const auto& s : e.input_specs)
    specs.append(py::make_tuple(s.name, std::string(dtype_name(s.dtype)), py::tuple(py::cast(s.min)),
                                py::tuple(py::cast(s.opt)), py::tuple(py::cast(s.max))));
  for (const auto& w : e.weights)
    weights.append(py::make_tuple(w.name, std::string(dtype_name(w.dtype)), py::tuple(py::cast(w.shape))));
  return py::make_tuple(to_bytes(e.engine), e.input_names, e.output_names, specs, weights, e.needs_output_allocator);
}

}  // namespace


void register_caches(py::module_& m) {
  py::class_<EngineCache, std::shared_ptr<EngineCache>>(m, "NativeEngineCache",
                                                          "A kiln::EngineCache (the C++ side of kiln's caches).")
      .def("save", [](EngineCache& c, const std::string& h, py::handle blob) {
        Blob b = from_buffer(blob);
        py::gil_scoped_release nogil;
        c.save(h, b);
      }, py::arg("hash"), py::arg("blob"))
      .def("load", [](EngineCache& c, const std::string& h) -> py::object {
        std::optional<Blob> b;
        {
          py::gil_scoped_release nogil;
          b = c.load(h);
        }
        return b ? py::object(to_bytes(*b)) : py::object(py::none());
      }, py::arg("hash"))
      .def("discard", &EngineCache::discard, py::arg("hash"), py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("local_dir", &EngineCache::local_dir);

  py::class_<DiskEngineCache, EngineCache, std::shared_ptr<DiskEngineCache>>(m, "NativeDiskEngineCache")
      .def(py::init([](std::optional<std::filesystem::path> dir, uint64_t size) {
        return std::make_shared<DiskEngineCache>(dir ? *dir : default_cache_dir(), size);
      }), py::arg("dir") = py::none(), py::arg("size_limit") = DiskEngineCache::k_default_size_limit)
      .def_property_readonly("dir", &DiskEngineCache::dir)
      .def_property_readonly("size_limit", &DiskEngineCache::size_limit)
      .def("remove", &DiskEngineCache::remove, py::arg("hash"))
      .def("list", [](const DiskEngineCache& c) {
        py::list out;
        for (const auto& i : c.list())
          out.append(py::make_tuple(i.hash, i.size,
                                    std::chrono::duration<double>(i.mtime.time_since_epoch()).count()));
        return out;
      }, "(hash, size, mtime) of every entry, most recently used first.")
      .def("purge", &DiskEngineCache::purge, py::arg("keep_n"), py::call_guard<py::gil_scoped_release>())
      .def("remove_stale_temp_files", [](DiskEngineCache& c) {
        RemovedTempFiles r = c.remove_stale_temp_files();
        return py::make_tuple(r.files, r.bytes);
      })
      .def("stats", [](const DiskEngineCache& c) { return stats_dict(c.stats()); });

  py::class_<RedisEngineCache, EngineCache, std::shared_ptr<RedisEngineCache>>(m, "NativeRedisEngineCache")
      .def(py::init([](const std::string& host, int port, double timeout_s, double retry_after_s) {
        using ms = std::chrono::milliseconds;
        return std::make_shared<RedisEngineCache>(host, port, ms(static_cast<int64_t>(timeout_s * 1000)),
                                                  ms(static_cast<int64_t>(retry_after_s * 1000)));
      }), py::arg("host") = "127.0.0.1", py::arg("port") = 6379, py::arg("timeout") = 1.0,
           py::arg("retry_after") = 30.0)
      .def("errors", &RedisEngineCache::errors)
      .def("stats", [](const RedisEngineCache& c) { return stats_dict(c.stats()); });

  py::class_<OwnedTiers, EngineCache, std::shared_ptr<OwnedTiers>>(m, "NativeTieredEngineCache")
      .def(py::init<std::vector<std::shared_ptr<EngineCache>>>(), py::arg("tiers"));

  py::class_<PythonEngineCache, EngineCache, std::shared_ptr<PythonEngineCache>>(
      m, "PythonEngineCache", "A Python object with save/load (and optionally discard) as a kiln EngineCache.")
      .def(py::init<py::object>(), py::arg("obj"))
      .def_property_readonly("object", &PythonEngineCache::object);

  m.def("cache_key", [](const Model& model, const BuildConfig& config) {
    py::gil_scoped_release nogil;
    return explain_cache_key(model, config).back().second;
  }, py::arg("model"), py::arg("config"), "The engine-cache key (hex SHA-256) of (model, config).");
  m.def("explain_cache_key", &explain_cache_key, py::arg("model"), py::arg("config"),
        py::call_guard<py::gil_scoped_release>());
  m.def("pack_entry", [](const std::string& hash, py::handle what) {
    CacheEntry e = py::isinstance<Engine>(what) ? cache_entry_of(what.cast<const Engine&>()) : entry_of_fields(what);
    return to_bytes(cache::pack_entry(e, hash));
  }, py::arg("hash"), py::arg("entry"), "A self-checking cache entry of an Engine, or of CacheEntry fields.");
  m.def("unpack_entry", [](py::handle blob, std::optional<std::string> hash) {
    Blob b = from_buffer(blob);
    const std::string key = hash ? *hash : cache::entry_key(b);
    return fields_of(cache::unpack_entry(b, key));
  }, py::arg("blob"), py::arg("hash") = py::none(),
        "Verifies and decodes an entry (kiln.CorruptError when it is not one for `hash`).");
  m.def("entry_key", [](py::handle blob) { return cache::entry_key(from_buffer(blob)); }, py::arg("blob"));
  m.def("engine_of_entry", [](py::handle engine_bytes, const std::string& label) {
    Blob b = from_buffer(engine_bytes);
    py::gil_scoped_release nogil;
    return Engine::deserialize(b.data(), b.size(), label);
  }, py::arg("engine_bytes"), py::arg("label") = "cache entry");
}

}  // namespace kiln::python
