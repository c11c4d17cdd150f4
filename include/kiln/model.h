// A loaded ONNX model: what `kiln info` shows, and the input to the builder.
// Immutable once loaded; safe to share between threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kiln/tensor.h"

namespace kiln {

namespace detail { struct ModelData; }

struct TensorInfo {
  std::string name;
  DataType dtype = DataType::Undefined;
  std::vector<int64_t> shape;           // -1 where the dimension is symbolic
  std::vector<std::string> dim_names;   // the symbol for each -1, "" otherwise
};

struct UnsupportedNode {
  std::string node;
  std::string op_type;
  std::string reason;
  bool cpu_fallback = false;  // a device lacks it but the CPU runs it (inside the same engine)
};

class Model {
 public:
  // Imports and validates; kiln::Error naming the file (and node/tensor) on failure.
  static Model load(const std::string& path);

  const std::string& path() const;
  std::vector<TensorInfo> inputs() const;
  std::vector<TensorInfo> outputs() const;
  std::map<std::string, int64_t> opsets() const;        // domain ("" = ai.onnx) → version
  std::map<std::string, int> op_histogram() const;      // op type → node count
  size_t num_nodes() const;
  size_t weights_bytes() const;
  // Nodes the device ("cpu", "cuda", "cuda:1") cannot run, and why, as the
  // model stands before optimization (`kiln info`); an engine built for it
  // runs those the CPU can on the CPU (Engine::host_nodes() after the build).
  std::vector<UnsupportedNode> unsupported(const std::string& device = "cpu") const;

  std::shared_ptr<const detail::ModelData> data() const { return m_data; }

 private:
  std::shared_ptr<const detail::ModelData> m_data;
};

}  // namespace kiln
