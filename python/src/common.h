// Shared by the binding's translation units: Python objects <-> kiln Tensors,
// the CUDA hand-off with producers, and the registration functions.
#pragma once

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kiln/tensor.h"

namespace py = pybind11;

namespace kiln::python {

// kiln.Tensor: a kiln Tensor as Python sees it (outputs, and anything passed
// through kiln.as_tensor). Host memory or device memory; DLPack both ways.
struct PyTensor {
  Tensor tensor;
};

// Work a call must wait for before kiln reads device inputs in place: DLPack
// producers were handed a consumer stream of ours (they order their writes
// before it); __cuda_array_interface__ producers name their own stream.
struct ProducerSync {
  std::vector<uintptr_t> streams;  // to synchronize, no duplicates
  void add(uintptr_t s);
  void wait() const;  // call without the GIL
};

// A Python object as a kiln Tensor without copying where possible: numpy
// arrays (buffer), kiln.Tensor, DLPack producers (torch, CuPy, JAX),
// __cuda_array_interface__ objects; anything else goes through numpy.asarray.
// `device` is the consuming Session's device (the CUDA index for
// __cuda_array_interface__, which carries none). The Tensor keeps `obj` alive.
Tensor tensor_from_python(py::handle obj, const Device& device, ProducerSync& sync);

// A host view (no copy) of a host tensor, or a host copy of a device tensor,
// as a numpy array; nullopt for dtypes numpy lacks (bfloat16).
std::optional<py::object> tensor_to_numpy(const Tensor& t);

// Keeps a Python object alive from C++ and drops it under the GIL, whatever
// thread releases the last handle.
std::shared_ptr<void> hold_python(py::handle obj);

// kiln's dtype of `name`; InvalidArgument "unknown dtype '<name>'" otherwise.
DataType parse_dtype(const std::string& name);

// ---- CUDA (cuda_sync.cpp; no-ops in a build without CUDA) ----
uintptr_t consumer_stream(int device);  // 0: none (no CUDA)
void synchronize_stream(uintptr_t stream);

void register_errors(py::module_& m);
void register_tensors(py::module_& m);
void register_models(py::module_& m);
void register_caches(py::module_& m);
void register_sessions(py::module_& m);
void register_task_models(py::module_& m);  // models.cpp: kiln.models (a stub without kiln_models)

}  // namespace kiln::python
