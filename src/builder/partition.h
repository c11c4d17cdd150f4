// Device placement. An engine is built for one device (its "primary"
// backend); a node that backend cannot run goes to the host (CPU) backend in
// the same engine, and the edges that cross between memories get copies
// (com.kiln ToDevice/ToHost, backends/transfer.h). So:
//   - a node runs on the primary unless it carries kiln.device = "cpu" (a
//     fallback), with kiln.fallback saying why;
//   - small shape computations (Shape -> Gather -> Concat feeding a Reshape)
//     run on the host even where the device could, because their results are
//     read on the host anyway (Backend::host_input) and a device round trip
//     per value costs more than the arithmetic;
//   - graph inputs and outputs live in the primary's memory.
// partition() is idempotent: it first removes the copies and placements of an
// earlier run, so a graph can be re-optimized (specialized) and re-placed.
#pragma once

#include <string>
#include <vector>

#include "backends/backend.h"
#include "ir/graph.h"

namespace kiln::builder {

inline constexpr const char* k_device_attr = "kiln.device";
inline constexpr const char* k_fallback_attr = "kiln.fallback";

struct PartitionResult {
  std::vector<std::string> unsupported;  // "node 'x' (Op): why" — nodes no backend can run
  int fallbacks = 0;                     // nodes placed on the host because the primary lacks them
  int host_shape_nodes = 0;              // shape computations placed on the host by choice
  int transfers = 0;                     // copies inserted
};

PartitionResult partition(ir::Graph& graph, const backend::Backend& primary, const backend::Backend& host);

// Whether node `n` runs on the host in a graph built for `primary`.
bool runs_on_host(const ir::Node& n, const backend::Backend& primary);
// The backend that runs `n` on the given device (the primary's, or the host's
// for fallbacks).
backend::Backend& backend_of(const ir::Node& n, backend::Backend& primary);

// Per value: true when it lives in host memory (written by a host node or a
// ToHost copy); graph inputs live on the primary.
std::vector<bool> host_values(const ir::Graph& graph, const backend::Backend& primary);

}  // namespace kiln::builder
