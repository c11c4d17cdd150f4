// NonZero: a data-dependent output shape [rank, count]. Three passes over
// tiles of k_tile elements: count each tile's nonzeros; scan the counts
// (one block) into tile offsets and the total; read the total back (pinned
// memory and a synchronize of the run's stream), allocate the output and
// write each nonzero's coordinates at its row-major rank, so the order is the
// CPU's and deterministic.
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>

#include "backends/cuda/kernels/tensor_util.cuh"

namespace kiln::backend::cuda::tensor {

namespace {

constexpr int k_items = 8;                       // elements per thread in a tile
constexpr int64_t k_tile = k_threads * k_items;  // elements per tile

template <typename T>
__device__ inline bool nonzero(T v) {
  if constexpr (std::is_same_v<T, bool>) return v;
  else return load(v) != Acc<T>(0);  // NaN counts as nonzero, -0 as zero, as on the CPU
}

unsigned tile_blocks(int64_t tiles) { return static_cast<unsigned>(std::min<int64_t>(tiles, int64_t{1} << 16)); }

template <typename T>
__global__ void count_kernel(const T* __restrict__ x, int64_t n, int64_t tiles, int64_t* __restrict__ counts) {
  using Reduce = cub::BlockReduce<int, k_threads>;
  __shared__ typename Reduce::TempStorage tmp;
  for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
    int c = 0;
#pragma unroll
    for (int k = 0; k < k_items; ++k) {
      const int64_t i = t * k_tile + k * k_threads + threadIdx.x;  // coalesced
      c += i < n && nonzero(x[i]);
    }
    const int total = Reduce(tmp).Sum(c);
    if (threadIdx.x == 0) counts[t] = total;
    __syncthreads();  // tmp is reused by the next tile
  }
}

struct RunningTotal {
  int64_t total;
  __device__ int64_t operator()(int64_t chunk) {
    const int64_t before = total;
    total += chunk;
    return before;
  }
};

// One block: offsets[t] = counts[0] + ... + counts[t-1]; offsets[tiles] = total.
__global__ void offsets_kernel(const int64_t* __restrict__ counts, int64_t tiles, int64_t* __restrict__ offsets) {
  using Scan = cub::BlockScan<int64_t, k_threads>;
  __shared__ typename Scan::TempStorage tmp;
  RunningTotal prefix{0};
  for (int64_t c = 0; c < tiles; c += k_threads) {
    const int64_t t = c + threadIdx.x;
    int64_t r;
    Scan(tmp).ExclusiveSum(t < tiles ? counts[t] : 0, r, prefix);
    __syncthreads();
    if (t < tiles) offsets[t] = r;
  }
  if (threadIdx.x == 0) offsets[tiles] = prefix.total;  // thread 0 is in the first warp, which kept the total
}

struct Dims {
  int rank = 0;
  int64_t d[k_max_dims] = {};
};

// Each thread takes k_items consecutive elements, so a block scan of the
// per-thread counts gives every nonzero its rank within the tile.
template <typename T>
__global__ void write_kernel(const T* __restrict__ x, int64_t n, int64_t tiles, const int64_t* __restrict__ offsets,
                             Dims dims, int64_t count, int64_t* __restrict__ out) {
  using Scan = cub::BlockScan<int, k_threads>;
  __shared__ typename Scan::TempStorage tmp;
  for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
    const int64_t first = t * k_tile + static_cast<int64_t>(threadIdx.x) * k_items;
    bool nz[k_items];
    int c = 0;
#pragma unroll
    for (int k = 0; k < k_items; ++k) {
      nz[k] = first + k < n && nonzero(x[first + k]);
      c += nz[k];
    }
    int before;
    Scan(tmp).ExclusiveSum(c, before);
    __syncthreads();
    int64_t j = offsets[t] + before;
#pragma unroll
    for (int k = 0; k < k_items; ++k) {
      if (!nz[k]) continue;
      int64_t rem = first + k;
      for (int d = dims.rank - 1; d >= 0; --d) {
        out[d * count + j] = rem % dims.d[d];
        rem /= dims.d[d];
      }
      ++j;
    }
  }
}

void non_zero(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const int64_t n = in.numel(), rank = in.rank();
  if (rank > k_max_dims) throw Error(ErrorCode::Unsupported, ctx.node().label() + ": rank > 8 on cuda");
  if (n == 0) {
    ctx.output(0, DataType::Int64, {rank, 0});
    return;
  }
  const int64_t tiles = (n + k_tile - 1) / k_tile;
  Scratch sc;
  const size_t at_counts = sc.add(static_cast<size_t>(tiles) * sizeof(int64_t));
  const size_t at_offsets = sc.add(static_cast<size_t>(tiles + 1) * sizeof(int64_t));
  char* ws = sc.take(ctx);
  auto* counts = reinterpret_cast<int64_t*>(ws + at_counts);
  auto* offsets = reinterpret_cast<int64_t*>(ws + at_offsets);
  CudaStream& cs = cuda_stream(ctx);
  cudaStream_t stream = cs.get();
  Dims dims;
  dims.rank = static_cast<int>(rank);
  for (int64_t d = 0; d < rank; ++d) dims.d[d] = in.shape()[static_cast<size_t>(d)];
  dispatch_all(in.dtype(), ctx, [&](auto tag) {
    using T = decltype(tag);
    count_kernel<T><<<tile_blocks(tiles), k_threads, 0, stream>>>(in.data<T>(), n, tiles, counts);
    KILN_CUDA_LAUNCH("count_kernel");
    offsets_kernel<<<1, k_threads, 0, stream>>>(counts, tiles, offsets);
    KILN_CUDA_LAUNCH("offsets_kernel");
    auto* host = static_cast<int64_t*>(cs.pinned(sizeof(int64_t)));
    KILN_CUDA(cudaMemcpyAsync(host, offsets + tiles, sizeof(int64_t), cudaMemcpyDeviceToHost, stream));
    KILN_CUDA(cudaStreamSynchronize(stream));
    const int64_t count = *host;
    Tensor& out = ctx.output(0, DataType::Int64, {rank, count});
    if (count == 0 || rank == 0) return;
    write_kernel<T><<<tile_blocks(tiles), k_threads, 0, stream>>>(in.data<T>(), n, tiles, offsets, dims, count,
                                                                  out.data<int64_t>());
    KILN_CUDA_LAUNCH("write_kernel");
  });
}

void check_non_zero(const ir::Node& n, const ir::Graph& g) {
  if (!n.inputs.empty()) require_rank(n, g, n.inputs[0]);
  const DataType dt = dtype_of(g, n, 0);
  if (dt == DataType::String || dt == DataType::Complex64 || dt == DataType::Complex128)
    unsupported(n, "dtype " + std::string(dtype_name(dt)));
}

}  // namespace

// Not capturable: it synchronizes to size its output.
void register_nonzero(KernelRegistry& r) { add_op(r, "NonZero", non_zero, check_non_zero, /*capturable=*/false); }

}  // namespace kiln::backend::cuda::tensor
