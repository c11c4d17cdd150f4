// Sanity limits on graph input shapes, checked when an engine is built and
// before anything is allocated for them: kernel timing allocates every static
// input, and a dimension like 2^40 (a typo in --shape, or a hostile model)
// would otherwise end in a request for petabytes and an unhelpful
// out-of-memory error, or an allocator abort under a sanitizer.
#pragma once

#include <cstdint>
#include <vector>

#include "kiln/engine.h"

namespace kiln::builder {

// One dimension: 2^31-1. cuDNN and cuBLASLt take int32 dimensions and many
// device kernels index a dimension with int32, so a larger dim cannot run on a
// GPU anyway; no real model input comes near it (2^31 tokens, pixels per side).
inline constexpr int64_t k_max_input_dim = (int64_t{1} << 31) - 1;

// One input tensor at its largest (the static shape, else the profile max):
// 64 GiB (2^36 bytes). Above the memory of any single GPU kiln targets but the
// H200 (~139 GiB, which the arena, weights and activations share), and of the
// hosts it runs on; while large sane inputs stay clear of it (a batch of 256
// 4K RGB float32 images is 24 GiB; [64, 32768, 4096] fp16 hidden states 16 GiB).
inline constexpr uint64_t k_max_input_bytes = uint64_t{1} << 36;

// Throws kiln::Error(InvalidArgument) naming the input, the shape and the
// limit when a known dimension of an input's shape or of its profile
// (min/opt/max) exceeds k_max_input_dim, or its largest shape holds more than
// k_max_input_bytes.
void check_input_shape_limits(const std::vector<TensorSpec>& inputs);

}  // namespace kiln::builder
