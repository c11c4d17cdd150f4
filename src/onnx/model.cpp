#include "kiln/model.h"

#include "backends/backend.h"
#include "onnx/import.h"
#include "onnx/model_data.h"

namespace kiln {

namespace {
TensorInfo info_of(const ir::Value& v) {
  TensorInfo t;
  t.name = v.name;
  t.dtype = v.dtype;
  if (v.shape) {
    for (const ir::Dim& d : *v.shape) {
      t.shape.push_back(d.known() ? d.value : -1);
      t.dim_names.push_back(d.known() ? "" : d.symbol);
    }
  }
  return t;
}
}  // namespace

Model Model::load(const std::string& path) {
  auto data = std::make_shared<detail::ModelData>();
  data->path = path;
  data->graph = onnx::import_file(path);
  Model m;
  m.m_data = std::move(data);
  return m;
}

const std::string& Model::path() const { return m_data->path; }

std::vector<TensorInfo> Model::inputs() const {
  std::vector<TensorInfo> out;
  for (ir::ValueId v : m_data->graph.inputs) out.push_back(info_of(m_data->graph.value(v)));
  return out;
}

std::vector<TensorInfo> Model::outputs() const {
  std::vector<TensorInfo> out;
  for (ir::ValueId v : m_data->graph.outputs) out.push_back(info_of(m_data->graph.value(v)));
  return out;
}

std::map<std::string, int64_t> Model::opsets() const { return m_data->graph.opsets; }

std::map<std::string, int> Model::op_histogram() const {
  std::map<std::string, int> h;
  for (const auto& n : m_data->graph.nodes) ++h[(n.domain.empty() ? "" : n.domain + "::") + n.op_type];
  return h;
}

size_t Model::num_nodes() const { return m_data->graph.nodes.size(); }

size_t Model::weights_bytes() const {
  size_t n = 0;
  for (const auto& v : m_data->graph.values)
    if (v.constant) n += v.constant->nbytes();
  return n;
}

std::vector<UnsupportedNode> Model::unsupported(const std::string& backend_name) const {
  backend::Backend& b = backend::backend_for(backend_name);
  std::vector<UnsupportedNode> out;
  for (const auto& n : m_data->graph.nodes) {
    std::string why;
    if (!b.supports(m_data->graph, n, &why))
      out.push_back({n.name, n.op_type, why,
                     !b.device().is_host() && backend::host_backend().supports(m_data->graph, n, nullptr)});
  }
  return out;
}

}  // namespace kiln
