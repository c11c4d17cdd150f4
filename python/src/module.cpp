// kiln._kiln: the extension module. Errors, models, engines and timing caches
// here; tensors, engine caches and sessions in their own files.
#include <execinfo.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <pybind11/stl/filesystem.h>

#include "backends/backend.h"
#include "common.h"
#include "core/env.h"
#include "core/log.h"
#include "kiln/builder.h"
#include "kiln/engine.h"
#include "kiln/engine_cache.h"
#include "kiln/error.h"
#include "kiln/model.h"
#include "kiln/timing_cache.h"

namespace kiln::python {

namespace {

constexpr int k_codes = static_cast<int>(ErrorCode::Internal) + 1;
PyObject* g_errors[k_codes];  // leaked on purpose: alive until the interpreter ends

// Messages name files, which need not be UTF-8: undecodable bytes are replaced.
py::object text(const std::string& s) {
  PyObject* u = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace");
  if (!u) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(u);
}

void raise_kiln_error(const Error& e) {
  PyObject* cls = g_errors[static_cast<int>(e.code())];
  try {
    py::object inst = py::handle(cls)(text(e.what()));
    inst.attr("code") = py::cast(e.code());
    inst.attr("message") = text(e.message());
    PyErr_SetObject(cls, inst.ptr());
  } catch (py::error_already_set& err) {
    err.restore();  // making the exception failed: that failure is raised instead
  }
}

py::tuple tuple_of(const std::vector<int64_t>& v) { return py::cast(v).cast<py::tuple>(); }

}  // namespace

void register_errors(py::module_& m) {
  py::enum_<ErrorCode>(m, "ErrorCode", "kiln::ErrorCode: what went wrong, as kiln classifies it.")
      .value("InvalidModel", ErrorCode::InvalidModel)
      .value("Unsupported", ErrorCode::Unsupported)
      .value("InvalidArgument", ErrorCode::InvalidArgument)
      .value("Incompatible", ErrorCode::Incompatible)
      .value("OutOfMemory", ErrorCode::OutOfMemory)
      .value("IO", ErrorCode::IO)
      .value("Cuda", ErrorCode::Cuda)
      .value("Corrupt", ErrorCode::Corrupt)
      .value("Internal", ErrorCode::Internal);
  PyObject* base = PyErr_NewExceptionWithDoc(
      "kiln.Error", "A kiln::Error: .code (kiln.ErrorCode) and .message (without the '[code] ' prefix str() shows).",
      PyExc_RuntimeError, nullptr);
  m.add_object("Error", py::handle(base));
  struct Sub {
    ErrorCode code;
    const char* name;
    PyObject* also;  // a builtin the error also is, so generic handlers catch it
  };
  const Sub subs[] = {
      {ErrorCode::InvalidModel, "InvalidModelError", nullptr},
      {ErrorCode::Unsupported, "UnsupportedError", nullptr},
      {ErrorCode::InvalidArgument, "InvalidArgumentError", PyExc_ValueError},
      {ErrorCode::Incompatible, "IncompatibleError", nullptr},
      {ErrorCode::OutOfMemory, "OutOfMemoryError", PyExc_MemoryError},
      {ErrorCode::IO, "IOFailureError", nullptr},
      {ErrorCode::Cuda, "CudaError", nullptr},
      {ErrorCode::Corrupt, "CorruptError", nullptr},
      {ErrorCode::Internal, "InternalError", nullptr},
  };
  for (const Sub& s : subs) {
    // (pybind11 >= 3 types make_tuple's result by its arguments: no ?: between the two)
    py::tuple bases = py::make_tuple(py::handle(base));
    if (s.also) bases = py::make_tuple(py::handle(base), py::handle(s.also));
    const std::string qual = std::string("kiln.") + s.name;
    PyObject* cls = PyErr_NewException(qual.c_str(), bases.ptr(), nullptr);
    if (!cls) throw py::error_already_set();
    g_errors[static_cast<int>(s.code)] = cls;
    m.add_object(s.name, py::handle(cls));
  }
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      raise_kiln_error(e);
    }
  });
}

void register_models(py::module_& m) {
  py::class_<TensorInfo>(m, "TensorInfo")
      .def_readonly("name", &TensorInfo::name)
      .def_property_readonly("dtype", [](const TensorInfo& t) { return std::string(dtype_name(t.dtype)); })
      .def_property_readonly("shape", [](const TensorInfo& t) { return tuple_of(t.shape); }, "-1 where symbolic")
      .def_readonly("dim_names", &TensorInfo::dim_names)
      .def("__repr__", [](const TensorInfo& t) {
        return "TensorInfo(" + t.name + ", " + std::string(dtype_name(t.dtype)) + ", " + shape_str(t.shape) + ")";
      });
  py::class_<TensorSpec>(m, "TensorSpec")
      .def_readonly("name", &TensorSpec::name)
      .def_property_readonly("dtype", [](const TensorSpec& t) { return std::string(dtype_name(t.dtype)); })
      .def_property_readonly("shape", [](const TensorSpec& t) { return tuple_of(t.shape); }, "-1 where dynamic")
      .def_property_readonly("min", [](const TensorSpec& t) { return tuple_of(t.min); })
      .def_property_readonly("opt", [](const TensorSpec& t) { return tuple_of(t.opt); })
      .def_property_readonly("max", [](const TensorSpec& t) { return tuple_of(t.max); })
      .def("__repr__", [](const TensorSpec& t) {
        return "TensorSpec(" + t.name + ", " + std::string(dtype_name(t.dtype)) + ", " + shape_str(t.shape) + ")";
      });
  py::class_<UnsupportedNode>(m, "UnsupportedNode")
      .def_readonly("node", &UnsupportedNode::node)
      .def_readonly("op_type", &UnsupportedNode::op_type)
      .def_readonly("reason", &UnsupportedNode::reason)
      .def_readonly("cpu_fallback", &UnsupportedNode::cpu_fallback);
  py::class_<NodePlacement>(m, "NodePlacement")
      .def_readonly("node", &NodePlacement::node)
      .def_readonly("op_type", &NodePlacement::op_type)
      .def_readonly("reason", &NodePlacement::reason);

  py::class_<Model>(m, "Model", "An imported ONNX model (immutable, shareable between threads).")
      .def_static("load", [](const std::filesystem::path& p) { return Model::load(p.string()); }, py::arg("path"),
                  py::call_guard<py::gil_scoped_release>(),
                  "Imports and validates an ONNX file; kiln.InvalidModelError naming the file on failure.")
      .def_property_readonly("path", &Model::path)
      .def_property_readonly("inputs", &Model::inputs)
      .def_property_readonly("outputs", &Model::outputs)
      .def_property_readonly("opsets", &Model::opsets)
      .def_property_readonly("op_histogram", &Model::op_histogram)
      .def_property_readonly("num_nodes", &Model::num_nodes)
      .def_property_readonly("weights_bytes", &Model::weights_bytes)
      .def("unsupported", &Model::unsupported, py::arg("device") = "cpu")
      .def("__repr__", [](const Model& mo) { return "kiln.Model('" + mo.path() + "')"; });

  py::class_<Engine>(m, "Engine", "A built engine: immutable, serializable, shared by Sessions.")
      .def("save", [](const Engine& e, const std::filesystem::path& p) { e.save(p.string()); }, py::arg("path"),
           py::call_guard<py::gil_scoped_release>())
      .def_static("load", [](const std::filesystem::path& p) { return Engine::load(p.string()); }, py::arg("path"),
                  py::call_guard<py::gil_scoped_release>())
      .def("serialize", [](const Engine& e) {
        std::vector<uint8_t> b;
        {
          py::gil_scoped_release nogil;
          b = e.serialize();
        }
        return py::bytes(reinterpret_cast<const char*>(b.data()), b.size());
      })
      .def_static("deserialize", [](py::bytes blob, const std::string& label) {
        std::string_view v(blob);
        py::gil_scoped_release nogil;
        return Engine::deserialize(reinterpret_cast<const uint8_t*>(v.data()), v.size(), label);
      }, py::arg("blob"), py::arg("label") = "engine")
      .def_property_readonly("inputs", &Engine::inputs)
      .def_property_readonly("outputs", &Engine::outputs)
      .def_property_readonly("backend", &Engine::backend)
      .def_property_readonly("fingerprint", &Engine::fingerprint)
      .def_property_readonly("producer", &Engine::producer)
      .def_property_readonly("num_nodes", &Engine::num_nodes)
      .def_property_readonly("weights_bytes", &Engine::weights_bytes)
      .def_property_readonly("arena_bytes", &Engine::arena_bytes)
      .def_property_readonly("weightless", &Engine::weightless)
      .def_property_readonly("needs_refit", &Engine::needs_refit)
      .def_property_readonly("needs_output_allocator", &Engine::needs_output_allocator)
      .def("refit", &Engine::refit, py::arg("model"), py::call_guard<py::gil_scoped_release>())
      .def("host_nodes", &Engine::host_nodes)
      .def("__repr__", [](const Engine& e) {
        return "kiln.Engine(backend=" + e.backend() + ", nodes=" + std::to_string(e.num_nodes()) + ")";
      });

  py::class_<TimingCache>(m, "TimingCache", "Measured kernel timings kept between builds.")
      .def(py::init<>())
      .def("load", [](TimingCache& t, const std::filesystem::path& p) { return t.load(p); }, py::arg("path"))
      .def("save", [](const TimingCache& t, const std::filesystem::path& p) { t.save(p); }, py::arg("path"))
      .def("lookup", [](const TimingCache& t, const std::string& k, const std::string& d) {
        std::vector<std::pair<std::string, double>> out;
        for (const auto& x : t.lookup(k, d)) out.emplace_back(x.candidate, x.ms);
        return out;
      }, py::arg("kernel"), py::arg("device"))
      .def("record", &TimingCache::record, py::arg("kernel"), py::arg("device"), py::arg("candidate"), py::arg("ms"))
      .def("merge", &TimingCache::merge, py::arg("other"))
      .def("clear", &TimingCache::clear)
      .def("__len__", &TimingCache::size)
      .def("to_json", &TimingCache::to_json)
      .def_static("from_json", &TimingCache::from_json, py::arg("text"), py::arg("what") = "timing cache");
}

}  // namespace kiln::python

namespace {

// KILN_PY_BACKTRACE=1: a crash prints the native frames (glibc's backtrace)
// to stderr, then the handler that was there before runs (Python's
// faulthandler, which adds the Python frames). For the machines where no
// debugger is installed. On an alternate stack, so that a stack overflow is
// reported too; run pytest with -s, or its capture of fd 2 swallows it.
struct sigaction g_previous[NSIG];

void native_backtrace(int sig) {
  static const char head[] = "\nkiln: fatal signal; native frames:\n";
  (void)!write(2, head, sizeof head - 1);
  void* frames[64];
  const int n = backtrace(frames, 64);
  backtrace_symbols_fd(frames, n, 2);
  sigaction(sig, &g_previous[sig], nullptr);
  raise(sig);
}

void install_backtrace() {
  if (!kiln::env_flag("KILN_PY_BACKTRACE", false)) return;
  void* warm[1];
  backtrace(warm, 1);  // loads libgcc's unwinder now, not inside the handler
  static char alt_stack[64 * 1024];
  stack_t ss{};
  ss.ss_sp = alt_stack;
  ss.ss_size = sizeof alt_stack;
  sigaltstack(&ss, nullptr);
  struct sigaction sa {};
  sa.sa_handler = native_backtrace;
  sa.sa_flags = SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) sigaction(sig, &sa, &g_previous[sig]);
}

}  // namespace

PYBIND11_MODULE(_kiln, m) {
  using namespace kiln::python;
  install_backtrace();
  m.doc() = "kiln's C++ API (the kiln package wraps it; import kiln, not kiln._kiln).";
#ifdef KILN_PY_VERSION
  m.attr("__version__") = KILN_PY_VERSION;
#endif
  m.attr("cuda_built") =
#if defined(KILN_WITH_CUDA)
      true;
#else
      false;
#endif
  register_errors(m);
  register_tensors(m);
  register_models(m);
  register_caches(m);
  register_sessions(m);
  register_task_models(m);
  m.def("cuda_available", [] {
    if (!kiln::backend::backend_registered("cuda")) return false;
    try {
      py::gil_scoped_release nogil;
      kiln::backend::backend_for("cuda:0");
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }, "Whether kiln has a CUDA backend and a GPU it can use.");
  m.def("set_log_level", [](const std::string& level) {
    static const std::pair<const char*, kiln::LogLevel> levels[] = {
        {"debug", kiln::LogLevel::Debug}, {"info", kiln::LogLevel::Info}, {"warning", kiln::LogLevel::Warning},
        {"error", kiln::LogLevel::Error}, {"off", kiln::LogLevel::Off}};
    for (const auto& [name, l] : levels)
      if (level == name) return kiln::set_log_level(l);
    throw kiln::Error(kiln::ErrorCode::InvalidArgument, "log level '" + level + "': debug, info, warning, error or off");
  }, py::arg("level"), "kiln's messages (on stderr): debug | info | warning | error | off.");
  m.def("default_cache_dir", &kiln::default_cache_dir);
}
