// Conv / FusedConv (no Z) → MaxPool (2-D, explicit pads, no dilations,
// ceil_mode 0, no Indices) becomes one com.kiln::FusedConvPool
// (Y = MaxPool(act(Conv(X, W, B))); see src/ir/ops/fused.cpp). An image
// network's stem writes its convolution's output (ResNet-50 at batch 256:
// 411 MB) only to read it back and keep a quarter: a kernel that pools as it
// computes never writes it. The convolution's output must have no other
// reader, and the fused node is made only where `runs` accepts it (a backend
// with a kernel for that form); the fused node takes the MaxPool's place.
// A Cast from float32 before the convolution (lowering's, at a 16-bit
// engine's float32 input) is absorbed too where `runs` accepts that form:
// the kernel rounds X as it reads it, and the 16-bit copy is never written.
#include "passes/fusion_util.h"
#include "passes/passes.h"

namespace kiln::passes {

namespace {

// The MaxPool's window as FusedConvPool's pool_* attributes; false when the
// pool is not a plain 2-D one.
bool pool_window(const ir::Node& pool, std::vector<int64_t>* k, std::vector<int64_t>* s, std::vector<int64_t>* p) {
  if (pool.outputs.size() > 1 && pool.outputs[1] != ir::k_no_value) return false;  // Indices
  if (pool.attr_s("auto_pad", "NOTSET") != "NOTSET" || pool.attr_i("ceil_mode", 0) != 0 ||
      !ints_all(pool, "dilations", 1))
    return false;
  *k = pool.attr_ints("kernel_shape");
  *s = pool.attr_ints("strides");
  *p = pool.attr_ints("pads");
  if (s->empty()) s->assign(2, 1);
  if (p->empty()) p->assign(4, 0);
  // FusedConvPool's schema asks pads < kernel (MaxPool's does not).
  return k->size() == 2 && s->size() == 2 && p->size() == 4 && (*p)[0] < (*k)[0] && (*p)[2] < (*k)[0] &&
         (*p)[1] < (*k)[1] && (*p)[3] < (*k)[1];
}

// The Cast (float32 -> W's 16-bit dtype) whose output only `conv` reads, as
// its X; -1 when there is none.
ir::NodeId cast_before(const ir::Graph& g, const std::vector<ir::NodeId>& producer, const Readers& readers,
                       const std::vector<bool>& dead, const ir::Node& conv) {
  const ir::ValueId x = conv.inputs[0];
  const ir::NodeId c = producer[static_cast<size_t>(x)];
  if (c < 0 || dead[static_cast<size_t>(c)] || readers.sole(x) < 0) return -1;
  const ir::Node& cast = g.nodes[static_cast<size_t>(c)];
  if (!is_onnx(cast, "Cast") || cast.inputs.size() != 1 || cast.outputs.size() != 1) return -1;
  const DataType from = g.value(cast.inputs[0]).dtype, to = g.value(x).dtype;
  const bool to16 = to == DataType::Float16 || to == DataType::BFloat16;
  return from == DataType::Float32 && to16 && g.value(conv.inputs[1]).dtype == to ? c : -1;
}

}  // namespace

int fuse_conv_pool(ir::Graph& g, const NodeFilter& mine, const NodeFilter& runs) {
  const Readers readers(g);
  const std::vector<ir::NodeId> producer = g.producers();
  std::vector<bool> dead(g.nodes.size(), false);
  int fused = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& conv = g.nodes[i];
    const bool plain = is_onnx(conv, "Conv"), kiln = conv.domain == "com.kiln" && conv.op_type == "FusedConv";
    if (dead[i] || !(plain || kiln) || conv.outputs.size() != 1 || (mine && !mine(conv))) continue;
    if (conv.inputs.size() > 3 || conv.inputs.size() < 2) continue;  // Z, or no W
    const ir::ValueId mid = conv.outputs[0];
    const ir::Value& mv = g.value(mid);
    if (!mv.shape || mv.shape->size() != 4) continue;
    const ir::NodeId r = readers.sole(mid);
    if (r < 0 || dead[static_cast<size_t>(r)]) continue;
    const ir::Node& pool = g.nodes[static_cast<size_t>(r)];
    std::vector<int64_t> k, s, p;
    if (!is_onnx(pool, "MaxPool") || pool.inputs.size() != 1 || (mine && !mine(pool)) || !pool_window(pool, &k, &s, &p))
      continue;
    ir::Node f = conv;
    f.domain = "com.kiln";
    f.op_type = "FusedConvPool";
    if (plain) ir::write_activation(f, {});
    f.attrs["pool_kernel_shape"] = ints_attr(k);
    f.attrs["pool_strides"] = ints_attr(s);
    f.attrs["pool_pads"] = ints_attr(p);
    f.outputs = {pool.outputs[0]};
    // The Cast of a 16-bit engine's float32 input before it, absorbed where
    // the backend takes float32 X.
    const ir::NodeId c = cast_before(g, producer, readers, dead, conv);
    if (c >= 0 && !(mine && !mine(g.nodes[static_cast<size_t>(c)]))) {
      ir::Node fc = f;
      fc.inputs[0] = g.nodes[static_cast<size_t>(c)].inputs[0];
      if (!runs || runs(fc)) {
        replace_chain(g, dead, static_cast<size_t>(c), {static_cast<ir::NodeId>(i), r}, std::move(fc));
        ++fused;
        continue;
      }
    }
    if (runs && !runs(f)) continue;
    replace_chain(g, dead, i, {r}, std::move(f));
    ++fused;
  }
  finish_fusions(g, dead, fused);
  return fused;
}

}  // namespace kiln::passes
