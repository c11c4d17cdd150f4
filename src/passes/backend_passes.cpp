#include "kiln/error.h"
#include "passes/passes.h"

namespace kiln::passes {

int run_backend_pass(const std::string& name, ir::Graph& graph, const NodeFilter& mine, const NodeFilter& runs) {
  if (name == "fuse_conv_dw") return fuse_conv_dw(graph, mine);
  if (name == "assign_cpu_layouts") return assign_cpu_layouts(graph, mine);
  if (name == "assign_cuda_layouts") return assign_cuda_layouts(graph, mine);
  if (name == "fuse_skip_layer_norm") return fuse_skip_layer_norm(graph, mine);
  if (name == "fuse_attention") return fuse_attention(graph, mine);
  if (name == "fuse_conv_pool") return fuse_conv_pool(graph, mine, runs);
  if (name == "fuse_conv_pair") return fuse_conv_pair(graph, mine, runs);
  if (name == "conv_patches_as_matmul") return conv_patches_as_matmul(graph, mine);
  throw Error(ErrorCode::Internal, "unknown backend pass '" + name + "'");
}

}  // namespace kiln::passes
