// What a kiln::Model holds: the imported, validated graph and where it came from.
#pragma once

#include <string>

#include "ir/graph.h"

namespace kiln::detail {

struct ModelData {
  std::string path;
  ir::Graph graph;
};

}  // namespace kiln::detail
