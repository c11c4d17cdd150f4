#include "backends/cuda/cuda_backend.h"

#include "backends/cuda/capture_gate.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include <cublasLt.h>
#include <cudnn.h>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_memory.h"
#include "backends/cuda/cuda_stream.h"
#include "backends/cuda/device_guard.h"
#include "backends/cuda/kernels/families.h"
#include "core/env.h"
#include "kiln/error.h"

namespace kiln::backend::cuda {

namespace {

std::string version_str(int v, int major_div, int minor_div) {
  return std::to_string(v / major_div) + "." + std::to_string((v % major_div) / minor_div);
}

// Inputs the CUDA kernels read on the host: shapes, axes, counts and other
// small operands that decide launch geometry (as ONNX Runtime's CPU-memory
// inputs of its CUDA kernels). Index lists per op type.
const std::map<std::string, std::set<size_t>>& host_inputs() {
  static const std::map<std::string, std::set<size_t>> k_table = {
      {"Reshape", {1}},          {"Expand", {1}},
      {"Tile", {1}},             {"Slice", {1, 2, 3, 4}},
      {"Pad", {1, 2, 3}},        {"TopK", {1}},
      {"Resize", {1, 2, 3}},     {"Upsample", {1}},
      {"ConstantOfShape", {0}},  {"Range", {0, 1, 2}},
      {"OneHot", {1, 2}},        {"Squeeze", {1}},
      {"Unsqueeze", {1}},        {"Split", {1}},
      {"ReduceSum", {1}},        {"ReduceMean", {1}},
      {"ReduceMax", {1}},        {"ReduceMin", {1}},
      {"ReduceProd", {1}},       {"ReduceL1", {1}},
      {"ReduceL2", {1}},         {"ReduceLogSum", {1}},
      {"ReduceLogSumExp", {1}},  {"ReduceSumSquare", {1}},
      {"NonMaxSuppression", {2, 3, 4}},
      {"CumSum", {1}},           {"Clip", {1, 2}},
      {"Trilu", {1}},            {"ReverseSequence", {1}},
      {"Dropout", {1, 2}},       {"Compress", {1}},
  };
  return k_table;
}

KernelRegistry make_registry() {
  KernelRegistry r;
  register_cuda_transfer(r);
  register_cuda_elementwise(r);
  register_cuda_tensor(r);
  register_cuda_reduce(r);
  register_cuda_nn(r);
  register_cuda_detection(r);
  return r;
}

}  // namespace

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

const KernelRegistry& cuda_kernels() {
  static const KernelRegistry r = make_registry();
  return r;
}

CudaBackend::CudaBackend(int device) : m_device(device) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    throw Error(ErrorCode::Cuda, "cuda:" + std::to_string(device) + ": no usable CUDA device (" +
                                     cudaGetErrorString(e) + ")");
  }
  if (device < 0 || device >= n)
    throw Error(ErrorCode::InvalidArgument, "cuda:" + std::to_string(device) + ": no such device (this machine has " +
                                                std::to_string(n) + " CUDA device" + (n == 1 ? "" : "s") + ")");
  cudaDeviceProp prop = {};
  KILN_CUDA(cudaGetDeviceProperties(&prop, device));
  int runtime = 0;
  KILN_CUDA(cudaRuntimeGetVersion(&runtime));
  // The GPU model and every library version, never the index: an engine
  // built on cuda:0 runs on cuda:1 of the same model.
  m_fingerprint = "cuda sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + " " + prop.name +
                  " cudart " + version_str(runtime, 1000, 10) + " cudnn " +
                  version_str(static_cast<int>(cudnnGetVersion()), 10000, 100) + " cublasLt " +
                  version_str(static_cast<int>(cublasLtGetVersion()), 10000, 100);
  if (!nhwc_enabled()) m_fingerprint += " nchw";  // engines of the two layouts differ
  m_pool = std::make_unique<PoolAllocator>(device);
}

CudaBackend::~CudaBackend() = default;

std::string CudaBackend::fingerprint() const {
  // The switches that remove kernel candidates: an engine may name one.
  return m_fingerprint + env_switches({"KILN_CONV_DIRECT", "KILN_CONV_POOL", "KILN_CONV_PAIR", "KILN_CONV_STEM",
                                       "KILN_CUDNN_SPACE_TO_DEPTH", "KILN_CUDNN_PAD_CHANNELS"});
}

std::string CudaBackend::timing_fingerprint() const {
  // The switches that change what a cuDNN candidate runs (fused graphs,
  // runtime-compiled engines, which engines are picked), and how candidates
  // are timed.
  return fingerprint() + env_switches({"KILN_CUDNN_FUSION", "KILN_CUDNN_RUNTIME_FUSION", "KILN_CUDNN_HEUR_B",
                                       "KILN_CUDNN_KNOBS", "KILN_CUDA_TIMING_HOLD"});
}

Allocator& CudaBackend::allocator() { return *m_pool; }

std::unique_ptr<Stream> CudaBackend::create_stream(const StreamConfig&) {
  return std::make_unique<CudaStream>(m_device, *m_pool);
}

void CudaBackend::copy(void* dst, const Device& dst_device, const void* src, const Device& src_device, size_t bytes,
                       Stream& stream) {
  if (!bytes) return;
  auto* s = dynamic_cast<CudaStream*>(&stream);
  if (!s) throw Error(ErrorCode::Internal, "a CUDA copy needs a CUDA stream");
  const auto on_this = [&](const Device& d) { return d.is_host() || d == device(); };
  if (!on_this(dst_device) || !on_this(src_device))
    throw Error(ErrorCode::InvalidArgument, "cuda:" + std::to_string(m_device) + " cannot copy from " +
                                                src_device.str() + " to " + dst_device.str());
  DeviceGuard guard(m_device);
  const cudaMemcpyKind kind = src_device.is_host() ? (dst_device.is_host() ? cudaMemcpyHostToHost : cudaMemcpyHostToDevice)
                                                   : (dst_device.is_host() ? cudaMemcpyDeviceToHost : cudaMemcpyDeviceToDevice);
  KILN_CUDA(cudaMemcpyAsync(dst, src, bytes, kind, s->get()));
}

double CudaBackend::time_ms(Stream& stream, const std::function<void()>& work) {
  // The work queues behind a hold until all of it is submitted, so the
  // events time the device alone (stream_hold.h); released on a throw too.
  // KILN_CUDA_TIMING_HOLD=0 times as before it (host submission included),
  // for comparing the choices each makes.
  static const bool use_hold = env_flag("KILN_CUDA_TIMING_HOLD", true);
  struct Held {
    CudaStream* s;
    ~Held() {
      if (s) s->release_hold();
    }
  };
  std::unique_ptr<Marker> from, to;
  {
    const Held held{use_hold ? dynamic_cast<CudaStream*>(&stream) : nullptr};
    if (held.s) held.s->hold();
    from = stream.mark();
    work();
    to = stream.mark();
  }  // everything is submitted: released
  stream.synchronize();
  return stream.elapsed_ms(*from, *to);
}

Tensor CudaBackend::empty_pinned(DataType dtype, const Shape& shape) {
  const size_t bytes = std::max<size_t>(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype), 1);
  void* p = nullptr;
  DeviceGuard guard(m_device);
  cudaError_t e;
  {
    CaptureGate::Exclusive gate;
    e = cudaMallocHost(&p, bytes);
  }
  if (e == cudaErrorMemoryAllocation)
    throw Error(ErrorCode::OutOfMemory, "out of page-locked host memory allocating " + std::to_string(bytes) + " bytes");
  KILN_CUDA(e);
  std::memset(p, 0, bytes);
  return Tensor::wrap(p, dtype, shape, Device{}, std::shared_ptr<void>(p, [](void* q) {
    CaptureGate::Exclusive gate;
    cudaFreeHost(q);
  }));
}

const KernelRegistry& CudaBackend::kernels() const { return cuda_kernels(); }

bool CudaBackend::supports(const ir::Graph& graph, const ir::Node& node, std::string* why) const {
  if (!Backend::supports(graph, node, why)) return false;
  // Factories check dtypes, ranks and attributes without touching the GPU.
  std::string reason;
  for (const std::string& name : kernels().candidates(node.op_type)) {
    try {
      if ((*kernels().find(node.op_type, name))(node, graph)) return true;
    } catch (const Error& e) {
      if (reason.empty()) reason = e.message();
    }
  }
  if (why) *why = reason.empty() ? "no cuda kernel takes it" : reason;
  return false;
}

bool CudaBackend::nhwc_enabled() {
  return env_flag("KILN_CUDA_NHWC", true);
}

std::vector<std::string> CudaBackend::passes(int optimization_level) const {
  // Transformer rewrites first (a patch embedding's convolution as a GEMM; a
  // residual add into the LayerNormalization after it; the
  // MatMul-Softmax-MatMul of attention into one op), so the fused nodes are
  // boundaries to the layouts; a stem's convolution and MaxPool into one op
  // where a kernel pools as it computes (after lowering: direct_mma takes
  // 16-bit data); a 1x1 convolution and the 1x1 shortcut it adds into one;
  // then channels-last between convolutions
  // (passes/assign_cuda_layouts.cpp).
  std::vector<std::string> out;
  if (optimization_level >= 2)
    out = {"conv_patches_as_matmul", "fuse_skip_layer_norm", "fuse_attention", "fuse_conv_pool", "fuse_conv_pair"};
  if (optimization_level >= 3 && nhwc_enabled()) out.push_back("assign_cuda_layouts");
  return out;
}

bool CudaBackend::host_input(const ir::Node& node, size_t i) const {
  if (!node.domain.empty() && node.domain != "ai.onnx") return false;
  auto it = host_inputs().find(node.op_type);
  return it != host_inputs().end() && it->second.count(i) > 0;
}

namespace {

CudaStream& as_cuda(Stream& stream) {
  auto* s = dynamic_cast<CudaStream*>(&stream);
  if (!s) throw Error(ErrorCode::Internal, "a CUDA capture needs a CUDA stream");
  return *s;
}

// An instantiated CUDA graph, replayed on a stream of its device.
class CudaGraphCapture final : public Capture {
 public:
  CudaGraphCapture(cudaGraphExec_t exec, int device) : m_exec(exec), m_device(device) {}
  ~CudaGraphCapture() override {
    // Review fix: restore the thread's device (contexts are dropped on the
    // caller's thread, which may be bound to another GPU).
    DeviceGuard guard(m_device, std::nothrow);
    cudaGraphExecDestroy(m_exec);
  }
  void replay(Stream& stream) override {
    DeviceGuard guard(m_device);
    KILN_CUDA(cudaGraphLaunch(m_exec, as_cuda(stream).get()));
  }

 private:
  cudaGraphExec_t m_exec;
  int m_device;
};

}  // namespace

void CudaBackend::begin_capture(Stream& stream) {
  DeviceGuard guard(m_device);
  // Thread-local mode: other threads' CUDA calls go on while this one
  // records, except the device-synchronizing ones (capture_gate.h).
  CaptureGate::enter_capture();
  const cudaError_t e = cudaStreamBeginCapture(as_cuda(stream).get(), cudaStreamCaptureModeThreadLocal);
  if (e != cudaSuccess) CaptureGate::leave_capture();
  KILN_CUDA(e);
}

std::unique_ptr<Capture> CudaBackend::end_capture(Stream& stream) {
  DeviceGuard guard(m_device);
  cudaGraph_t graph = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(as_cuda(stream).get(), &graph);
  CaptureGate::leave_capture();
  KILN_CUDA(ended);
  // Fault injection for tests of the failure path (tests/unit/test_cuda_graphs.cpp).
  if (const char* f = std::getenv("KILN_FAULT"); f && std::string(f) == "capture") {
    cudaGraphDestroy(graph);
    throw Error(ErrorCode::Cuda, "cuda:" + std::to_string(m_device) + ": capture failed (KILN_FAULT=capture)");
  }
  cudaGraphExec_t exec = nullptr;
  const cudaError_t e = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  KILN_CUDA(e);
  return std::make_unique<CudaGraphCapture>(exec, m_device);
}

void CudaBackend::abort_capture(Stream& stream) {
  DeviceGuard guard(m_device);
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  cudaStreamIsCapturing(as_cuda(stream).get(), &status);
  if (status == cudaStreamCaptureStatusNone) {
    CaptureGate::leave_capture();
    return;
  }
  cudaGraph_t graph = nullptr;
  cudaStreamEndCapture(as_cuda(stream).get(), &graph);  // fails when invalidated; the stream is usable again either way
  CaptureGate::leave_capture();
  if (graph) cudaGraphDestroy(graph);
  cudaGetLastError();
}

}  // namespace kiln::backend::cuda

namespace kiln::backend {
std::unique_ptr<Backend> make_cuda_backend(int index) { return std::make_unique<cuda::CudaBackend>(index); }
}  // namespace kiln::backend
