// CUDA kernels of the tensor family: data movement, indexing and shape ops,
// with the CPU's semantics (backends/cpu/kernels/{reshape_like,slice,pad,
// gather,scatter,constant,scan}.cpp) and the same shape rules
// (ir/ops/shape_rules.h). One file per concept beside this one; this file
// registers them and holds the helpers they share (tensor_util.cuh).
// Shape, Size and Constant stay on the CPU: they read only metadata or are
// folded at build time (tests/backend_ops/cuda_skip_list.txt).
#include "backends/cuda/kernels/families.h"
#include "backends/cuda/kernels/tensor_util.cuh"

namespace kiln::backend::cuda {

void register_cuda_tensor(KernelRegistry& r) {
  tensor::register_reshape(r);
  tensor::register_slice(r);
  tensor::register_gather(r);
  tensor::register_scatter(r);
  tensor::register_constant(r);
  tensor::register_scan(r);
  tensor::register_nonzero(r);
}

namespace tensor {

void add_op(KernelRegistry& r, const char* op, KernelFn run, Check check, bool capturable) {
  r.add(
      op,
      [run, check, capturable](const ir::Node& n, const ir::Graph& g) -> std::unique_ptr<Kernel> {
        if (check) check(n, g);
        return std::make_unique<FnKernel>(run, capturable);
      },
      "cuda");
}

namespace {
class IndexedKernel final : public Kernel {
 public:
  IndexedKernel(IndexedFn fn, std::vector<int64_t> checked) : m_fn(fn), m_checked(std::move(checked)) {}
  void run(KernelContext& ctx) override { m_fn(ctx, m_checked); }
  // Indices not validated at build time are checked on the device and the
  // verdict read back (read_flag: a cudaStreamSynchronize), which is illegal
  // while the stream is capturing: it would invalidate the capture and drop
  // CUDA graphs for the whole model. Only build-time-checked nodes capture.
  bool capturable() const override { return !m_checked.empty(); }

 private:
  IndexedFn m_fn;
  std::vector<int64_t> m_checked;
};

// Whether value v is a constant whose entry p lies in [-dims[p % size], dims[p % size]).
bool constant_in_range(const ir::Graph& g, ir::ValueId v, const std::vector<int64_t>& dims) {
  if (v == ir::k_no_value || dims.empty()) return false;
  const auto& c = g.value(v).constant;
  if (!c || !c->on_host() || (c->dtype() != DataType::Int32 && c->dtype() != DataType::Int64)) return false;
  const std::vector<int64_t> idx = read_ints(*c);
  for (size_t p = 0; p < idx.size(); ++p) {
    const int64_t d = dims[p % dims.size()];
    if (idx[p] < -d || idx[p] >= d) return false;
  }
  return true;
}
}  // namespace

void add_indexed_op(KernelRegistry& r, const char* op, IndexedFn run, Check check, size_t indices_input,
                    IndexDims dims) {
  r.add(
      op,
      [run, check, indices_input, dims](const ir::Node& n, const ir::Graph& g) -> std::unique_ptr<Kernel> {
        if (check) check(n, g);
        std::vector<int64_t> d = dims(n, g);
        const ir::ValueId v = n.has_input(indices_input) ? n.inputs[indices_input] : ir::k_no_value;
        if (!constant_in_range(g, v, d)) d.clear();
        return std::make_unique<IndexedKernel>(run, std::move(d));
      },
      "cuda");
}

std::vector<int64_t> known_dims(const ir::Graph& g, const ir::Node& n, size_t i, int64_t begin, int64_t count) {
  if (!n.has_input(i)) return {};
  const auto& s = g.value(n.inputs[i]).shape;
  if (!s) return {};
  const int64_t rank = static_cast<int64_t>(s->size());
  if (begin < 0) begin += rank;
  if (begin < 0 || count < 0 || begin + count > rank) return {};
  std::vector<int64_t> out;
  for (int64_t d = begin; d < begin + count; ++d) {
    const ir::Dim& dim = (*s)[static_cast<size_t>(d)];
    if (!dim.known()) return {};
    out.push_back(dim.value);
  }
  return out;
}

void unsupported(const ir::Node& n, const std::string& why) {
  throw Error(ErrorCode::Unsupported, n.label() + ": " + why + " on cuda");
}

DataType dtype_of(const ir::Graph& g, const ir::Node& n, size_t i) {
  if (!n.has_input(i)) return DataType::Undefined;
  return g.value(n.inputs[i]).dtype;
}

void check_movable(const ir::Node& n, const ir::Graph& g) {
  const DataType dt = dtype_of(g, n, 0);
  if (dt == DataType::Undefined) return;
  if (dt == DataType::String) unsupported(n, "string tensors");
  const size_t es = dtype_size(dt);
  if (es != 1 && es != 2 && es != 4 && es != 8)
    unsupported(n, std::to_string(es) + "-byte elements (" + std::string(dtype_name(dt)) + ")");
}

void check_movable_ranked(const ir::Node& n, const ir::Graph& g) {
  check_movable(n, g);
  for (ir::ValueId v : n.inputs) require_rank(n, g, v);
  for (ir::ValueId v : n.outputs) require_rank(n, g, v);
}

void check_index_dtype(const ir::Node& n, const ir::Graph& g, size_t i, bool int64_only) {
  const DataType dt = dtype_of(g, n, i);
  if (dt == DataType::Undefined || dt == DataType::Int64 || (!int64_only && dt == DataType::Int32)) return;
  unsupported(n, "indices of dtype " + std::string(dtype_name(dt)));
}

void upload(const KernelContext& ctx, void* dst, const void* host, size_t bytes) {
  if (!bytes) return;
  KILN_CUDA(cudaMemcpyAsync(dst, host, bytes, cudaMemcpyHostToDevice, cuda_stream(ctx).get()));
}

void clear_flag(const KernelContext& ctx, int64_t* slot) {
  KILN_CUDA(cudaMemsetAsync(slot, 0, 2 * sizeof(int64_t), cuda_stream(ctx).get()));
}

bool read_flag(const KernelContext& ctx, const int64_t* slot, int64_t* value) {
  CudaStream& s = cuda_stream(ctx);
  auto* host = static_cast<int64_t*>(s.pinned(2 * sizeof(int64_t)));
  KILN_CUDA(cudaMemcpyAsync(host, slot, 2 * sizeof(int64_t), cudaMemcpyDeviceToHost, s.get()));
  KILN_CUDA(cudaStreamSynchronize(s.get()));
  if (!host[0]) return false;
  *value = host[1];
  return true;
}

}  // namespace tensor
}  // namespace kiln::backend::cuda
