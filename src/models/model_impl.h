// What a TaskModel holds, shared by its files (loading, post-processing).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kiln/models.h"
#include "models/package.h"

namespace kiln::models::detail {

struct Network {
  const NetworkSpec* spec = nullptr;
  std::string input;                 // the ONNX input fed
  std::vector<std::string> outputs;  // the engine's outputs, in order
  std::vector<Shape> output_shapes;  // as the engine declares them (-1: dynamic)
  int max_batch = 1;
  bool cache_hit = false;
  std::unique_ptr<Session> session;
};

struct ModelImpl {
  PackageSpec spec;
  std::unique_ptr<DiskEngineCache> own_cache;
  std::map<std::string, Network> networks;
  double load_seconds = 0;

  Network& net(const std::string& role) { return networks.at(role); }
  // The output of `role` named `what` in the package (default: `what`), or
  // the network's only output when `what` is empty.
  size_t output_index(const Network& n, const std::string& what) const;
};

// The outputs the task reads exist (kiln::Error(InvalidModel) otherwise).
void check_outputs(ModelImpl& impl);

}  // namespace kiln::models::detail
