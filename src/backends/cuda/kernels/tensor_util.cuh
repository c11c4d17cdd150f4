// Shared pieces of the CUDA tensor family (tensor*.cu): registration helpers,
// host-side operand reading, and the few byte-moving primitives every op of
// the family is built from (a strided copy, a per-axis modular gather for
// Pad/Tile, a row gather, a fill), plus the device index check that reports an
// out-of-range index through ctx.fail. Include from tensor*.cu only.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "backends/cuda/kernels/common.cuh"
#include "backends/kernel_params.h"
#include "core/dispatch.h"
#include "ir/ops/shape_rules.h"

namespace kiln::backend::cuda::tensor {

// ---- registration (tensor.cu) ----
using Check = void (*)(const ir::Node&, const ir::Graph&);
// Registers `run` as the "cuda" candidate of `op`; the factory runs `check`.
// capturable = false for ops that synchronize (NonZero) or upload a per-run
// table from pageable host memory (Compress, ReverseSequence): neither may be
// recorded into a CUDA graph (Kernel::capturable()).
void add_op(KernelRegistry& r, const char* op, KernelFn run, Check check, bool capturable = true);

void register_reshape(KernelRegistry& r);   // tensor_reshape.cu
void register_slice(KernelRegistry& r);     // tensor_slice.cu
void register_gather(KernelRegistry& r);    // tensor_gather.cu
void register_scatter(KernelRegistry& r);   // tensor_scatter.cu
void register_constant(KernelRegistry& r);  // tensor_constant.cu
void register_scan(KernelRegistry& r);      // tensor_scan.cu
void register_nonzero(KernelRegistry& r);   // tensor_nonzero.cu

// Ops that read by index (Gather*, Scatter*) check their indices against the
// data dims on the host at build time when the indices are a constant and
// the dims known (`checked_dims` is then those dims, else empty); otherwise
// run() checks them on the device and reads the verdict back (a synchronize).
using IndexedFn = void (*)(KernelContext& ctx, const std::vector<int64_t>& checked_dims);
// The dims entry p of the indices is checked against (dims[p % size]); empty
// when the graph does not know them.
using IndexDims = std::vector<int64_t> (*)(const ir::Node& n, const ir::Graph& g);
void add_indexed_op(KernelRegistry& r, const char* op, IndexedFn run, Check check, size_t indices_input,
                    IndexDims dims);
// The `count` known dims of input i's shape from `begin` (negative counts
// from the end), or empty when the rank or any of them is unknown.
std::vector<int64_t> known_dims(const ir::Graph& g, const ir::Node& n, size_t i, int64_t begin, int64_t count);

// ---- factory checks (tensor.cu) ----
[[noreturn]] void unsupported(const ir::Node& n, const std::string& why);
// Input i's dtype when the graph knows it (Undefined otherwise).
DataType dtype_of(const ir::Graph& g, const ir::Node& n, size_t i);
// Input 0 has an element size the byte movers take (1, 2, 4 or 8 bytes).
void check_movable(const ir::Node& n, const ir::Graph& g);
// check_movable, and every known input and output rank is <= k_max_dims.
void check_movable_ranked(const ir::Node& n, const ir::Graph& g);
// Input i is int32 or int64 (or unknown).
void check_index_dtype(const ir::Node& n, const ir::Graph& g, size_t i, bool int64_only = false);

// ---- host operands (and the parameters the CPU kernels share: backends/kernel_params.h) ----
using params::concrete;
using params::fail_of;
using params::host_ints;
using params::prod;
inline std::vector<int64_t> strides_of(const Shape& s) { return contiguous_strides(s); }

// ---- scratch ----
// Lays out several blocks of one workspace() call (256-byte aligned).
class Scratch {
 public:
  size_t add(size_t bytes) {
    const size_t at = m_total;
    m_total += scratch_bytes(bytes);
    return at;
  }
  // Takes the stream's workspace once; returns its base.
  char* take(const KernelContext& ctx) {
    return m_total ? static_cast<char*>(cuda_stream(ctx).workspace(m_total)) : nullptr;
  }

 private:
  size_t m_total = 0;
};

// Copies a small host table into device memory in stream order. The source is
// pageable: cudaMemcpyAsync has consumed it when it returns, so it may go away.
void upload(const KernelContext& ctx, void* dst, const void* host, size_t bytes);

// ---- device index checks ----
// A device slot {flag, value}: kernels set flag = 1 and value = the offending
// index. clear_flag zeroes it in stream order; read_flag copies it back and
// synchronizes the run's stream (only done when the indices were not checked
// on the host at build time). Returns true and the value when it was set.
void clear_flag(const KernelContext& ctx, int64_t* slot);
bool read_flag(const KernelContext& ctx, const int64_t* slot, int64_t* value);

// ---- byte movers (tensor_copy.cu) ----
// Output 0 = input 0's bytes with another shape (a device-to-device copy).
void copy_reshaped(KernelContext& ctx, const Shape& shape);
// Output 0 = the strided view of input 0 a shared plan describes.
void copy_view(KernelContext& ctx, const params::StridedView& v);

// (params::planned<plan, copy_reshaped / copy_view> makes kernels of them.)

// For every multi-index i < shape:
//   dst[dst_base + sum(i*dst_strides)] = src[src_base + sum(i*src_strides)]
// (element strides, any sign, 0 to broadcast). Merges dims, widens contiguous
// runs to up to 16-byte moves, and uses cudaMemcpyAsync when contiguous.
void copy_strided(const KernelContext& ctx, void* dst, int64_t dst_base, const std::vector<int64_t>& dst_strides,
                  const void* src, int64_t src_base, const std::vector<int64_t>& src_strides, const Shape& shape,
                  size_t es);

using params::PadMode;
// out[o] = in[lo + map(o - before)] per dim, where map leaves [0, len) alone and
// folds other positions by `mode` (Constant: the element at `fill`). Pad and
// Tile (Wrap with before = lo = 0, len = the input dim) are this.
void pad_copy(const KernelContext& ctx, void* out, const Shape& out_shape, const void* in, const Shape& in_shape,
              const std::vector<int64_t>& before, const std::vector<int64_t>& lo, const std::vector<int64_t>& len,
              PadMode mode, const void* fill, size_t es);

// out[o, j, r] = in[o, idx[j], r] for o < outer, j < n_idx, r < inner; idx is
// int32 or int64 on the device, negatives wrap. Out-of-range entries (which
// check_indices reports) write zeros instead of reading out of bounds.
void gather_rows(const KernelContext& ctx, void* out, const void* in, const void* idx, DataType idx_dt,
                 int64_t outer, int64_t n_idx, int64_t dim, int64_t inner, size_t es);
// Sets the flag slot when an index of the n on the device is outside [-dim, dim).
void check_indices(const KernelContext& ctx, const void* idx, DataType idx_dt, int64_t n, int64_t dim,
                   int64_t* slot);

// n copies of the element at host address `value` (es bytes).
void fill(const KernelContext& ctx, void* dst, int64_t n, const void* value, size_t es);

// The largest factor f (power of 2) with es*f <= 16, run % f == 0 and every
// pointer aligned to es*f: rows of `run` elements then move as f-wide units.
int64_t widen_factor(size_t es, int64_t run, std::initializer_list<const void*> ptrs);

// Calls f with an unsigned type of `bytes` size (1, 2, 4, 8 or 16 bytes).
template <typename F>
void dispatch_move(size_t bytes, F&& f) {
  switch (bytes) {
    case 1: f(uint8_t{}); return;
    case 2: f(uint16_t{}); return;
    case 4: f(uint32_t{}); return;
    case 8: f(uint64_t{}); return;
    case 16: f(uint4{}); return;
    default: throw Error(ErrorCode::Internal, "tensor kernels: element size " + std::to_string(bytes));
  }
}

}  // namespace kiln::backend::cuda::tensor
