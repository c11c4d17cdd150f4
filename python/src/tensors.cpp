// Python objects <-> kiln Tensors: numpy, DLPack, __cuda_array_interface__.
#include <pybind11/numpy.h>

#include <cstring>

#include "backends/backend.h"
#include "common.h"
#include "dlpack.h"
#include "kiln/error.h"

namespace kiln::python {

namespace {

[[noreturn]] void bad_input(const std::string& what) { throw Error(ErrorCode::InvalidArgument, what); }

DataType dtype_of_numpy(const py::dtype& d) {
  const char kind = d.kind();
  const auto size = d.itemsize();
  if (kind == 'f' && size == 2) return DataType::Float16;
  if (kind == 'f' && size == 4) return DataType::Float32;
  if (kind == 'f' && size == 8) return DataType::Float64;
  if (kind == 'b' && size == 1) return DataType::Bool;
  if (kind == 'i' || kind == 'u') {
    const bool s = kind == 'i';
    switch (size) {
      case 1: return s ? DataType::Int8 : DataType::UInt8;
      case 2: return s ? DataType::Int16 : DataType::UInt16;
      case 4: return s ? DataType::Int32 : DataType::UInt32;
      case 8: return s ? DataType::Int64 : DataType::UInt64;
    }
  }
  bad_input("numpy dtype " + py::str(py::handle(d)).cast<std::string>() + " has no kiln equivalent");
}

DataType dtype_of_dlpack(DLDataType t) {
  if (t.lanes != 1) bad_input("DLPack tensors with vector lanes are not supported");
  switch (t.code) {
    case kDLFloat:
      if (t.bits == 16) return DataType::Float16;
      if (t.bits == 32) return DataType::Float32;
      if (t.bits == 64) return DataType::Float64;
      break;
    case kDLBfloat:
      if (t.bits == 16) return DataType::BFloat16;
      break;
    case kDLBool:
      if (t.bits == 8) return DataType::Bool;
      break;
    case kDLInt:
    case kDLUInt: {
      const bool s = t.code == kDLInt;
      if (t.bits == 8) return s ? DataType::Int8 : DataType::UInt8;
      if (t.bits == 16) return s ? DataType::Int16 : DataType::UInt16;
      if (t.bits == 32) return s ? DataType::Int32 : DataType::UInt32;
      if (t.bits == 64) return s ? DataType::Int64 : DataType::UInt64;
      break;
    }
  }
  bad_input("DLPack dtype (code " + std::to_string(t.code) + ", " + std::to_string(t.bits) +
            " bits) has no kiln equivalent");
}

DLDataType dlpack_of(DataType dt) {
  const auto bits = static_cast<uint8_t>(dtype_size(dt) * 8);
  switch (dt) {
    case DataType::Float16: case DataType::Float32: case DataType::Float64: return {kDLFloat, bits, 1};
    case DataType::BFloat16: return {kDLBfloat, 16, 1};
    case DataType::Bool: return {kDLBool, 8, 1};
    case DataType::Int8: case DataType::Int16: case DataType::Int32: case DataType::Int64: return {kDLInt, bits, 1};
    case DataType::UInt8: case DataType::UInt16: case DataType::UInt32: case DataType::UInt64:
      return {kDLUInt, bits, 1};
    default: bad_input("dtype " + std::string(dtype_name(dt)) + " cannot be exported through DLPack");
  }
}

// Row-major compact, or strides that differ only on dims of size 1.
bool compact(const Shape& shape, const int64_t* strides, int64_t unit) {
  if (!strides) return true;
  int64_t expect = unit;
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] != 1 && strides[i] != expect) return false;
    expect *= shape[i];
  }
  return true;
}

Tensor from_numpy(py::array a) {
  if (!(a.flags() & py::array::c_style) || !a.dtype().attr("isnative").cast<bool>()) {
    auto np = py::module_::import("numpy");
    a = np.attr("ascontiguousarray")(a, a.dtype().attr("newbyteorder")("="));
  }
  const DataType dt = dtype_of_numpy(a.dtype());
  Shape shape(a.shape(), a.shape() + a.ndim());
  return Tensor::wrap(const_cast<void*>(a.data()), dt, std::move(shape), Device{}, hold_python(a));
}

Tensor from_dlpack(py::handle obj, ProducerSync& sync) {
  auto where = obj.attr("__dlpack_device__")().cast<std::pair<int, int>>();
  py::object cap;
  Device device;
  if (where.first == kDLCUDA || where.first == kDLCUDAManaged) {
    device = Device{DeviceKind::CUDA, where.second};
    const uintptr_t stream = consumer_stream(where.second);
    if (stream) {
      cap = obj.attr("__dlpack__")(py::arg("stream") = stream);
      sync.add(stream);
    } else {
      cap = obj.attr("__dlpack__")();
    }
  } else if (where.first == kDLCPU || where.first == kDLCUDAHost) {
    cap = obj.attr("__dlpack__")();
  } else {
    bad_input("DLPack device type " + std::to_string(where.first) + " is not supported (CPU and CUDA are)");
  }
  auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap.ptr(), "dltensor"));
  if (!m) throw py::error_already_set();
  PyCapsule_SetName(cap.ptr(), "used_dltensor");  // ours now: the capsule must not free it
  std::shared_ptr<void> owner(m, [](void* p) {
    auto* mt = static_cast<DLManagedTensor*>(p);
    if (!mt->deleter) return;
    py::gil_scoped_acquire gil;  // numpy's deleter touches Python objects
    mt->deleter(mt);
  });
  const DLTensor& t = m->dl_tensor;
  const DataType dt = dtype_of_dlpack(t.dtype);
  Shape shape(t.shape, t.shape + t.ndim);
  if (!compact(shape, t.strides, 1)) bad_input("a strided DLPack tensor: pass a contiguous one (.contiguous())");
  void* data = static_cast<char*>(t.data) + t.byte_offset;
  return Tensor::wrap(data, dt, std::move(shape), device, std::move(owner));
}

Tensor from_cuda_array_interface(py::handle obj, const Device& device, ProducerSync& sync) {
  py::dict cai = obj.attr("__cuda_array_interface__");
  Shape shape = cai["shape"].cast<std::vector<int64_t>>();
  DataType dt;
  const auto typestr = cai["typestr"].cast<std::string>();
  if (!dtype_from_name(typestr, &dt) || !dtype_is_supported(dt))
    bad_input("__cuda_array_interface__ typestr '" + typestr + "' has no kiln equivalent");
  if (cai.contains("strides") && !cai["strides"].is_none()) {
    auto strides = cai["strides"].cast<std::vector<int64_t>>();
    if (!compact(shape, strides.data(), static_cast<int64_t>(dtype_size(dt))))
      bad_input("a strided __cuda_array_interface__ array: pass a contiguous one");
  }
  auto ptr = cai["data"].cast<py::tuple>()[0].cast<uintptr_t>();
  // v3 names the producer's stream (None: ready). Older producers name none;
  // their work is taken to be on the legacy default stream (handle 1).
  if (!cai.contains("stream")) sync.add(1);
  else if (!cai["stream"].is_none()) sync.add(cai["stream"].cast<uintptr_t>());
  const Device d = device.kind == DeviceKind::CUDA ? device : Device{DeviceKind::CUDA, 0};
  return Tensor::wrap(reinterpret_cast<void*>(ptr), dt, std::move(shape), d, hold_python(obj));
}

// DLPack export: the capsule owns a handle to the tensor until the consumer's deleter runs.
struct Export {
  Tensor tensor;
  Shape shape;
  DLManagedTensor managed{};
};

void capsule_destructor(PyObject* cap) {
  if (PyCapsule_IsValid(cap, "used_dltensor")) return;  // a consumer took it
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  if (auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap, "dltensor"))) m->deleter(m);
  else PyErr_Clear();
  PyErr_Restore(type, value, tb);
}

py::object to_dlpack(const Tensor& t) {
  auto* e = new Export{t, t.shape(), {}};
  DLTensor& d = e->managed.dl_tensor;
  d.data = e->tensor.raw();
  d.device = t.on_host() ? DLDevice{kDLCPU, 0} : DLDevice{kDLCUDA, t.device().index};
  d.ndim = static_cast<int32_t>(e->shape.size());
  d.dtype = dlpack_of(t.dtype());
  d.shape = e->shape.data();
  d.strides = nullptr;
  d.byte_offset = 0;
  e->managed.manager_ctx = e;
  e->managed.deleter = [](DLManagedTensor* m) { delete static_cast<Export*>(m->manager_ctx); };
  PyObject* cap = PyCapsule_New(&e->managed, "dltensor", capsule_destructor);
  if (!cap) {
    delete e;
    throw py::error_already_set();
  }
  return py::reinterpret_steal<py::object>(cap);
}

Tensor host_copy(const Tensor& t) {
  if (t.on_host()) return t;
  Tensor h = Tensor::empty(t.dtype(), t.shape());
  backend::Backend& be = backend::backend_for(t.device());
  auto stream = be.create_stream();
  be.copy(h.raw(), h.device(), t.raw(), t.device(), t.nbytes(), *stream);
  stream->synchronize();
  return h;
}

py::tuple shape_tuple(const Shape& s) {
  py::tuple out(s.size());
  for (size_t i = 0; i < s.size(); ++i) out[i] = s[i];
  return out;
}

}  // namespace

void ProducerSync::add(uintptr_t s) {
  for (uintptr_t x : streams)
    if (x == s) return;
  streams.push_back(s);
}

void ProducerSync::wait() const {
  for (uintptr_t s : streams) synchronize_stream(s);
}

DataType parse_dtype(const std::string& name) {
  DataType dt;
  if (!dtype_from_name(name, &dt)) throw Error(ErrorCode::InvalidArgument, "unknown dtype '" + name + "'");
  return dt;
}

std::shared_ptr<void> hold_python(py::handle obj) {
  obj.inc_ref();
  return std::shared_ptr<void>(obj.ptr(), [](void* p) {
    py::gil_scoped_acquire gil;
    Py_DECREF(static_cast<PyObject*>(p));
  });
}

Tensor tensor_from_python(py::handle obj, const Device& device, ProducerSync& sync) {
  if (py::isinstance<PyTensor>(obj)) return obj.cast<PyTensor&>().tensor;
  if (py::isinstance<py::array>(obj)) return from_numpy(py::reinterpret_borrow<py::array>(obj));
  const bool cai = py::hasattr(obj, "__cuda_array_interface__");
  if (py::hasattr(obj, "__dlpack__") && py::hasattr(obj, "__dlpack_device__")) {
    try {
      return from_dlpack(obj, sync);
    } catch (py::error_already_set& e) {
      // Older producers refuse some dtypes (torch < 2 has no bool in DLPack):
      // another protocol may carry them; if none does, the DLPack error stands.
      if (cai) return from_cuda_array_interface(obj, device, sync);
      try {
        return from_numpy(py::module_::import("numpy").attr("asarray")(obj));
      } catch (py::error_already_set&) {
        throw e;
      }
    }
  }
  if (cai) return from_cuda_array_interface(obj, device, sync);
  return from_numpy(py::module_::import("numpy").attr("asarray")(obj));
}

std::optional<py::object> tensor_to_numpy(const Tensor& t) {
  if (t.dtype() == DataType::BFloat16 || !dtype_is_supported(t.dtype())) return std::nullopt;
  Tensor h;
  {
    py::gil_scoped_release nogil;
    h = host_copy(t);
  }
  py::dtype dt(std::string(dtype_name(t.dtype())));
  py::capsule base(new Tensor(h), [](void* p) { delete static_cast<Tensor*>(p); });
  return py::array(dt, std::vector<py::ssize_t>(h.shape().begin(), h.shape().end()), {}, h.raw(), base);
}

void register_tensors(py::module_& m) {
  py::class_<PyTensor>(m, "Tensor", "A tensor kiln returned (host or device memory); DLPack and numpy capable.")
      .def_property_readonly("shape", [](const PyTensor& t) { return shape_tuple(t.tensor.shape()); })
      .def_property_readonly("dtype", [](const PyTensor& t) { return std::string(dtype_name(t.tensor.dtype())); })
      .def_property_readonly("device", [](const PyTensor& t) { return t.tensor.device().str(); })
      .def_property_readonly("ndim", [](const PyTensor& t) { return t.tensor.rank(); })
      .def_property_readonly("nbytes", [](const PyTensor& t) { return t.tensor.nbytes(); })
      .def_property_readonly("data_ptr", [](const PyTensor& t) { return reinterpret_cast<uintptr_t>(t.tensor.raw()); })
      .def("numpy", [](const PyTensor& t) -> py::object {
        if (auto a = tensor_to_numpy(t.tensor)) return *a;
        throw Error(ErrorCode::Unsupported, "numpy has no " + std::string(dtype_name(t.tensor.dtype())) +
                                                "; use torch.from_dlpack(tensor)");
      }, "A numpy array: a view of host memory, a copy of device memory.")
      .def("__array__", [](py::object self, py::object dtype, py::object) {
        py::object a = self.attr("numpy")();
        return dtype.is_none() ? a : a.attr("astype")(dtype);
      }, py::arg("dtype") = py::none(), py::arg("copy") = py::none())
      .def("__dlpack__", [](const PyTensor& t, py::object, py::kwargs) { return to_dlpack(t.tensor); },
           py::arg("stream") = py::none(),
           "A legacy (unversioned) DLPack capsule; max_version and the other newer keywords are accepted and "
           "ignored. Outputs are complete when run() returns, so any consumer stream may read them.")
      .def("__dlpack_device__", [](const PyTensor& t) -> py::tuple {
        if (t.tensor.on_host()) return py::make_tuple(int(kDLCPU), 0);
        return py::make_tuple(int(kDLCUDA), int(t.tensor.device().index));
      })
      .def_property_readonly("__cuda_array_interface__", [](const PyTensor& t) -> py::dict {
        if (t.tensor.on_host()) throw py::attribute_error("a host tensor has no __cuda_array_interface__");
        py::dict d;
        std::string typestr = t.tensor.dtype() == DataType::Bool ? "|b1" : "";
        if (typestr.empty()) {
          const char kind = dtype_is_float(t.tensor.dtype()) ? 'f' : (std::string(dtype_name(t.tensor.dtype()))[0] == 'u' ? 'u' : 'i');
          typestr = std::string("<") + kind + std::to_string(dtype_size(t.tensor.dtype()));
          if (t.tensor.dtype() == DataType::BFloat16) typestr = "<V2";
        }
        d["shape"] = shape_tuple(t.tensor.shape());
        d["typestr"] = typestr;
        d["data"] = py::make_tuple(reinterpret_cast<uintptr_t>(t.tensor.raw()), false);
        d["strides"] = py::none();
        d["stream"] = py::none();  // complete: no synchronization needed
        d["version"] = 3;
        return d;
      })
      .def("__len__", [](const PyTensor& t) {
        if (t.tensor.rank() == 0) throw py::type_error("len() of a 0-d tensor");
        return t.tensor.shape()[0];
      })
      .def("__repr__", [](const PyTensor& t) {
        return "kiln.Tensor(shape=" + shape_str(t.tensor.shape()) + ", dtype=" + std::string(dtype_name(t.tensor.dtype())) +
               ", device=" + t.tensor.device().str() + ")";
      });

  m.def("as_tensor", [](py::handle obj, const std::string& device) {
    ProducerSync sync;
    PyTensor t{tensor_from_python(obj, Device::parse(device), sync)};
    py::gil_scoped_release nogil;
    sync.wait();
    return t;
  }, py::arg("obj"), py::arg("device") = "cpu",
        "Wraps an array (numpy, DLPack, __cuda_array_interface__) as a kiln.Tensor without copying.");
}

}  // namespace kiln::python
