// Weightless engines: stored without their weights, refitted by name from the
// model on load (e.g. after an engine-cache hit).
#include "engine/engine_data.h"
#include "kiln/engine.h"
#include "kiln/error.h"
#include "kiln/model.h"
#include "onnx/model_data.h"

namespace kiln {

bool Engine::needs_refit() const {
  if (!m_data) return false;
  for (ir::ValueId v : m_data->weights)
    if (!m_data->graph.value(v).constant) return true;
  return false;
}

Engine Engine::refit(const Model& model) const {
  if (!m_data) throw Error(ErrorCode::InvalidArgument, "refit of an empty kiln::Engine");
  auto copy = std::make_shared<detail::EngineData>(*m_data);
  const ir::Graph& src = model.data()->graph;
  for (ir::ValueId id : copy->weights) {
    ir::Value& v = copy->graph.value(id);
    auto sid = src.find_value(v.name);
    if (!sid || !src.value(*sid).constant)
      throw Error(ErrorCode::InvalidArgument, "refit from " + model.path() + ": the model has no weight '" + v.name + "'");
    const Tensor& w = *src.value(*sid).constant;
    const Shape want = v.shape ? ir::to_shape(*v.shape) : Shape{};
    if (w.dtype() != v.dtype || w.shape() != want)
      throw Error(ErrorCode::InvalidArgument, "refit from " + model.path() + ": weight '" + v.name + "' is " +
                                                  std::string(dtype_name(w.dtype())) + shape_str(w.shape()) +
                                                  ", the engine expects " + std::string(dtype_name(v.dtype)) +
                                                  shape_str(want));
    v.constant = w;
  }
  return Engine(std::move(copy));
}

}  // namespace kiln
