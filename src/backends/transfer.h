// Copies between memories as graph nodes. When the builder places a graph on
// several devices (builder/partition.h), each edge that crosses from one
// memory to another gets one of these, run by the device backend:
//   com.kiln::ToDevice(x) -> y   host memory   -> device memory
//   com.kiln::ToHost(x)   -> y   device memory -> host memory
// Both keep dtype and shape. The CPU backend runs them as plain copies, so
// constant folding and a CPU-only run of such a graph work too.
#pragma once

#include "ir/graph.h"

namespace kiln::backend {

inline constexpr const char* k_to_device = "ToDevice";
inline constexpr const char* k_to_host = "ToHost";

inline bool is_transfer(const ir::Node& n) {
  return n.domain == "com.kiln" && (n.op_type == k_to_device || n.op_type == k_to_host);
}
// Whether the node's outputs live in host memory whatever device runs it.
inline bool writes_host_always(const ir::Node& n) { return n.domain == "com.kiln" && n.op_type == k_to_host; }

class Backend;
// Whether `n`, run on `b`, writes host memory.
bool writes_host(const ir::Node& n, const Backend& b);

}  // namespace kiln::backend
