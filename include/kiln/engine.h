// An Engine is a built, immutable, serializable plan for one model on one
// backend. It is shareable across threads; Sessions hold the per-run state.
// The file format is described in src/engine/format.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kiln/tensor.h"

namespace kiln {

namespace detail { struct EngineData; }

struct TensorSpec {
  std::string name;
  DataType dtype = DataType::Undefined;
  std::vector<int64_t> shape;  // -1 for dynamic dims
  Shape min, opt, max;         // the profile range for inputs (empty when static)
};

// A node that runs on the CPU in an engine built for a device.
struct NodePlacement {
  std::string node;
  std::string op_type;
  std::string reason;  // why: the device lacks the op (its reason), or a shape computation read on the host
};

class Engine {
 public:
  Engine() = default;
  explicit Engine(std::shared_ptr<const detail::EngineData> data) : m_data(std::move(data)) {}

  std::vector<uint8_t> serialize() const;
  // kiln::Error(Corrupt) on a damaged blob, (Incompatible) on another format
  // version; `label` names the source in messages.
  static Engine deserialize(const uint8_t* data, size_t size, const std::string& label = "engine");
  void save(const std::string& path) const;  // atomic: temp file + rename
  static Engine load(const std::string& path);

  bool valid() const { return m_data != nullptr; }
  const std::vector<TensorSpec>& inputs() const;
  const std::vector<TensorSpec>& outputs() const;
  const std::string& backend() const;      // "cpu", "cuda"
  const std::string& fingerprint() const;  // environment the kernels were chosen for
  const std::string& producer() const;     // "kiln 0.1.0"
  size_t num_nodes() const;
  size_t weights_bytes() const;
  size_t arena_bytes() const;  // planned intermediate memory at the build shapes
  bool weightless() const;     // built to be stored without weights
  // True for a weightless engine loaded without its weights: refit() first.
  bool needs_refit() const;
  // A copy with every stripped weight filled from the model's initializer of
  // the same name. kiln::Error(InvalidArgument) naming the weight when the model
  // lacks it or its dtype or shape differs.
  Engine refit(const class Model& model) const;
  bool needs_output_allocator() const;  // some output shape depends on data
  // Nodes placed on the CPU in an engine built for a device (empty for CPU
  // engines), in execution order; copies between memories are not listed.
  std::vector<NodePlacement> host_nodes() const;

  std::shared_ptr<const detail::EngineData> data() const { return m_data; }

 private:
  std::shared_ptr<const detail::EngineData> m_data;
};

}  // namespace kiln
