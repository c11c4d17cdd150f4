// Helpers shared by the graph-cache tests: the cache itself (test_graph_cache),
// on the fake GPU (test_fake_graphs) and on real CUDA graphs (test_cuda_graphs).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "kiln/graph_cache.h"
#include "kiln/session.h"

namespace kiln::test {

// A tensor's bytes, for bitwise comparisons of replays.
inline std::vector<uint8_t> bytes_of(const Tensor& t) {
  const auto* p = static_cast<const uint8_t*>(t.raw());
  return std::vector<uint8_t>(p, p + t.nbytes());
}

// Session options with `c` as the graph cache.
inline SessionOptions with(std::shared_ptr<GraphCache> c) {
  SessionOptions o;
  o.graph_cache = std::move(c);
  return o;
}

}  // namespace kiln::test
