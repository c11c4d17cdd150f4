// NMS sort keys and a segmented bitonic sort (included by nms.cu only).
// Each segment holds npad (a power of two) 64-bit keys, sorted descending
// in place. Tiles of up to k_tile keys sort in shared memory; longer
// segments add global merge steps for the strides a tile cannot hold, each
// followed by a shared-memory pass over the short strides.
#pragma once

#include "backends/cuda/kernels/detection_common.cuh"

namespace kiln::backend::cuda::det {

inline int64_t next_pow2(int64_t v) {
  int64_t r = 1;
  while (r < v) r *= 2;
  return r;
}

// Descending key order = descending score, then ascending index; every
// candidate key is nonzero (the low word is ~index, and index < 2^32 - 1).
__device__ __forceinline__ uint64_t nms_key(float s, int64_t index) {
  uint32_t bits = __float_as_uint(s);
  if ((bits & 0x7fffffffu) == 0) bits = 0;  // -0 ties with +0, as float comparison has it
  bits = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  return (static_cast<uint64_t>(bits) << 32) | static_cast<uint64_t>(0xffffffffu - static_cast<uint32_t>(index));
}
__device__ __forceinline__ int64_t nms_index(uint64_t key) {
  return static_cast<int64_t>(0xffffffffu - static_cast<uint32_t>(key & 0xffffffffu));
}

constexpr int64_t k_tile = 4096;  // keys per shared-memory tile (32 KiB)
constexpr int k_sort_threads = 1024;

// One compare-exchange step over pair index q of stride j in bitonic stage
// k: positions i < l = i + j; the pair sorts descending when bit k of the
// position within the segment is clear.
__device__ __forceinline__ void bitonic_pair(uint64_t* a, int64_t base_pos, int64_t q, int64_t k, int64_t j) {
  const int64_t i = 2 * q - (q & (j - 1)), l = i + j;
  const bool desc = ((base_pos + i) & k) == 0;
  const uint64_t x = a[i], y = a[l];
  if (desc ? x < y : x > y) {
    a[i] = y;
    a[l] = x;
  }
}

// Block per tile of `tile` keys (tiles never straddle segments). full: the
// whole bitonic sort of the tile (stages 2..tile); else the strides
// tile/2..1 of stage k.
__global__ void bitonic_tile(uint64_t* keys, int64_t npad, int64_t tile, int64_t num_tiles, bool full, int64_t k_stage) {
  extern __shared__ uint64_t s_keys[];
  for (int64_t t = blockIdx.x; t < num_tiles; t += gridDim.x) {
    uint64_t* g = keys + t * tile;
    const int64_t base_pos = (t * tile) % npad;  // position of the tile within its segment
    for (int64_t e = threadIdx.x; e < tile; e += blockDim.x) s_keys[e] = g[e];
    __syncthreads();
    const int64_t k_first = full ? 2 : k_stage, k_last = full ? tile : k_stage;
    for (int64_t k = k_first; k <= k_last; k *= 2) {
      for (int64_t j = (full ? k : tile) / 2; j > 0; j /= 2) {
        for (int64_t q = threadIdx.x; q < tile / 2; q += blockDim.x) bitonic_pair(s_keys, base_pos, q, k, j);
        __syncthreads();
      }
    }
    for (int64_t e = threadIdx.x; e < tile; e += blockDim.x) g[e] = s_keys[e];
    __syncthreads();  // s_keys is reloaded for the next tile
  }
}

// One global step (stage k, stride j >= tile) over every segment.
__global__ void bitonic_global(uint64_t* keys, int64_t segments, int64_t npad, int64_t k, int64_t j) {
  const int64_t half = npad / 2;
  KILN_GRID_STRIDE(g, segments * half) {
    const int64_t seg = g / half, q = g % half;
    bitonic_pair(keys + seg * npad, 0, q, k, j);
  }
}

// Sorts each of `segments` runs of npad keys descending.
inline void sort_segments_desc(uint64_t* keys, int64_t segments, int64_t npad, cudaStream_t stream) {
  if (npad < 2) return;
  const int64_t tile = std::min(npad, k_tile), num_tiles = segments * (npad / tile);
  const unsigned tile_blocks = static_cast<unsigned>(std::min<int64_t>(num_tiles, int64_t{1} << 20));
  const int threads = static_cast<int>(std::min<int64_t>(k_sort_threads, tile / 2));
  const size_t smem = static_cast<size_t>(tile) * sizeof(uint64_t);
  bitonic_tile<<<tile_blocks, threads, smem, stream>>>(keys, npad, tile, num_tiles, true, 0);
  KILN_CUDA_LAUNCH("bitonic_tile");
  for (int64_t k = 2 * tile; k <= npad; k *= 2) {
    for (int64_t j = k / 2; j >= tile; j /= 2) {
      bitonic_global<<<grid_for(segments * (npad / 2)), k_threads, 0, stream>>>(keys, segments, npad, k, j);
      KILN_CUDA_LAUNCH("bitonic_global");
    }
    bitonic_tile<<<tile_blocks, threads, smem, stream>>>(keys, npad, tile, num_tiles, false, k);
    KILN_CUDA_LAUNCH("bitonic_tile");
  }
}

}  // namespace kiln::backend::cuda::det
