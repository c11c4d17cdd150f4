// The oneDNN objects every CPU kernel shares: one CPU engine for the process
// and one stream per calling thread (a oneDNN stream must not be used by two
// threads at once, and Sessions may run on several), plus small conversions
// between kiln shapes and oneDNN memory descriptors.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <cstdint>
#include <string>

#include "kiln/tensor.h"

namespace kiln::backend::onednn {

dnnl::engine& cpu_engine();
// This thread's stream on cpu_engine(). CPU streams run synchronously, so a
// primitive's result is ready when execute() returns (after wait()).
dnnl::stream& cpu_stream();

// "onednn 2.6.0 (omp)": what the engine-cache fingerprint records.
std::string onednn_version();

dnnl::memory::dims to_dims(const Shape& s);
// The plain row-major format tag for a rank (a, ab, abc, ...); rank 1..6.
dnnl::memory::format_tag plain_tag(size_t rank);
// A row-major f32 descriptor of `s`.
dnnl::memory::desc plain_f32(const Shape& s);
// A f32 descriptor of `s` in a kiln layout (passes/assign_layouts.cpp): 0 plain
// row-major, 1 channels last (the channel axis 1 moved innermost).
dnnl::memory::desc layout_f32(const Shape& s, int layout);
// A memory object over a tensor's own buffer (no copy), described by `md`.
dnnl::memory wrap(const dnnl::memory::desc& md, const Tensor& t);

}  // namespace kiln::backend::onednn

namespace kiln::backend::onednn {

// Counts runs computed by a oneDNN primitive (rather than a fallback to the
// reference kernel); tests read it to know which path ran.
uint64_t primitive_runs();
void count_primitive_run();

// Steps `pd` past oneDNN's reference implementations ("ref:any"), which are
// far slower than its JIT kernels (and than kiln's own reference kernels for
// convolution); false when only those are left.
template <typename PrimitiveDesc>
bool skip_reference_impls(PrimitiveDesc& pd) {
  while (std::string(pd.impl_info_str()).rfind("ref", 0) == 0)
    if (!pd.next_impl()) return false;
  return true;
}

// Runs `create`, which makes a kernel plan's primitive and returns whether it
// found one; a dnnl::error (oneDNN has no implementation for the case) counts
// as none. The reference kernel then runs the case.
template <typename Create>
bool primitive_created(Create&& create) {
  try {
    return create();
  } catch (const dnnl::error&) {
    return false;
  }
}

// A reorder (layout conversion) primitive between two descriptors on cpu_engine().
dnnl::reorder make_reorder(const dnnl::memory::desc& from, const dnnl::memory::desc& to);

}  // namespace kiln::backend::onednn
