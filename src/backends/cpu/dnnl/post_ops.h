// A fused activation (ir/ops/fused_attrs.h) as oneDNN eltwise post-ops.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include "ir/ops/fused_attrs.h"

namespace kiln::backend::onednn {

// Appends the activation to `po`; false (po unchanged) when oneDNN 2.6 has no
// post-op that computes what the reference kernel does.
bool append_activation(dnnl::post_ops& po, const ir::FusedActivation& a);

}  // namespace kiln::backend::onednn
