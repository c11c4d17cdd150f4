#include "backends/kernel.h"

#include <algorithm>

#include "kiln/error.h"

namespace kiln::backend {

const Tensor& KernelContext::input(size_t i) const {
  if (!has_input(i)) fail("required input " + std::to_string(i) + " is missing");
  return *m_inputs[i];
}

Tensor& KernelContext::output(size_t i, DataType dtype, const Shape& shape) {
  if (i >= m_outputs.size()) fail("output index " + std::to_string(i) + " out of range");
  m_outputs[i] = m_alloc(i, dtype, shape);
  return m_outputs[i];
}

void KernelContext::fail(const std::string& what) const {
  throw Error(ErrorCode::InvalidArgument, m_node.label() + ": " + what);
}

void KernelRegistry::add(const std::string& op_type, KernelFactory factory, const std::string& candidate) {
  m_entries.push_back({op_type, candidate, std::move(factory)});
}

void KernelRegistry::add_fn(const std::string& op_type, KernelFn fn, const std::string& candidate) {
  add(op_type, [fn](const ir::Node&, const ir::Graph&) { return std::make_unique<FnKernel>(fn); }, candidate);
}

const KernelFactory* KernelRegistry::find(const std::string& op_type) const {
  // Later registrations win, so an optimized kernel can override a reference one.
  for (auto it = m_entries.rbegin(); it != m_entries.rend(); ++it)
    if (it->op_type == op_type) return &it->factory;
  return nullptr;
}

const KernelFactory* KernelRegistry::find(const std::string& op_type, const std::string& candidate) const {
  for (auto it = m_entries.rbegin(); it != m_entries.rend(); ++it)
    if (it->op_type == op_type && it->candidate == candidate) return &it->factory;
  return nullptr;
}

std::vector<std::string> KernelRegistry::candidates(const std::string& op_type) const {
  std::vector<std::string> out;
  for (const auto& e : m_entries)
    if (e.op_type == op_type && std::find(out.begin(), out.end(), e.candidate) == out.end()) out.push_back(e.candidate);
  return out;
}

std::vector<std::string> KernelRegistry::op_types() const {
  std::vector<std::string> out;
  for (const auto& e : m_entries) out.push_back(e.op_type);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

const KernelFactory* kernel_for(const KernelRegistry& registry, const ir::Node& node) {
  if (const ir::Attribute* a = node.attr("kiln.kernel"); a && a->kind == ir::Attribute::Kind::String)
    if (const KernelFactory* f = registry.find(node.op_type, a->s)) return f;
  return registry.find(node.op_type);
}

std::string kernel_name_for(const KernelRegistry& registry, const ir::Node& node) {
  if (const ir::Attribute* a = node.attr("kiln.kernel"); a && a->kind == ir::Attribute::Kind::String)
    if (registry.find(node.op_type, a->s)) return a->s;
  const std::vector<std::string> names = registry.candidates(node.op_type);
  return names.empty() ? std::string() : names.back();
}

}  // namespace kiln::backend
