#include "ir/serialize.h"

#include <algorithm>
#include <sstream>

namespace kiln::ir {

namespace {

constexpr uint8_t k_const_none = 0, k_const_data = 1, k_const_stripped = 2;

void write_ids(ByteWriter& w, const std::vector<ValueId>& ids) {
  w.put<uint64_t>(ids.size());
  for (ValueId id : ids) w.put<int32_t>(id);
}

std::vector<ValueId> read_ids(ByteReader& r, size_t n_values) {
  const uint64_t n = r.get_count(4);
  std::vector<ValueId> ids(n);
  for (auto& id : ids) {
    id = r.get<int32_t>();
    if (id < -1 || id >= static_cast<int64_t>(n_values)) r.fail("value id " + std::to_string(id) + " out of range");
  }
  return ids;
}

void write_attr(ByteWriter& w, const Attribute& a) {
  w.put<int32_t>(static_cast<int32_t>(a.kind));
  switch (a.kind) {
    case Attribute::Kind::Int: w.put<int64_t>(a.i); break;
    case Attribute::Kind::Float: w.put<float>(a.f); break;
    case Attribute::Kind::String: w.put_str(a.s); break;
    case Attribute::Kind::Ints:
      w.put<uint64_t>(a.ints.size());
      for (int64_t v : a.ints) w.put<int64_t>(v);
      break;
    case Attribute::Kind::Floats:
      w.put<uint64_t>(a.floats.size());
      for (float v : a.floats) w.put<float>(v);
      break;
    case Attribute::Kind::Strings:
      w.put<uint64_t>(a.strings.size());
      for (const auto& s : a.strings) w.put_str(s);
      break;
    case Attribute::Kind::Tensor: write_tensor(w, *a.t); break;
    case Attribute::Kind::Graph:
      w.put<uint8_t>(a.g ? 1 : 0);
      if (a.g) write_graph(w, *a.g);
      break;
  }
}

Attribute read_attr(ByteReader& r) {
  Attribute a;
  const int32_t kind = r.get<int32_t>();
  if (kind < 0 || kind > static_cast<int32_t>(Attribute::Kind::Graph)) r.fail("bad attribute kind");
  a.kind = static_cast<Attribute::Kind>(kind);
  switch (a.kind) {
    case Attribute::Kind::Int: a.i = r.get<int64_t>(); break;
    case Attribute::Kind::Float: a.f = r.get<float>(); break;
    case Attribute::Kind::String: a.s = r.get_str(1u << 30); break;
    case Attribute::Kind::Ints:
      a.ints.resize(r.get_count(8));
      for (auto& v : a.ints) v = r.get<int64_t>();
      break;
    case Attribute::Kind::Floats:
      a.floats.resize(r.get_count(4));
      for (auto& v : a.floats) v = r.get<float>();
      break;
    case Attribute::Kind::Strings:
      a.strings.resize(r.get_count(4));
      for (auto& s : a.strings) s = r.get_str(1u << 30);
      break;
    case Attribute::Kind::Tensor: a.t = read_tensor(r); break;
    case Attribute::Kind::Graph:
      if (r.get<uint8_t>()) a.g = std::make_shared<Graph>(read_graph(r));
      break;
  }
  return a;
}

void write_shape(ByteWriter& w, const SymShape& s) {
  w.put<uint64_t>(s.size());
  for (const Dim& d : s) {
    w.put<int64_t>(d.value);
    w.put_str(d.symbol);
  }
}

SymShape read_shape(ByteReader& r) {
  SymShape s(r.get_count(12));
  for (Dim& d : s) {
    d.value = r.get<int64_t>();
    d.symbol = r.get_str();
  }
  return s;
}

}  // namespace

void write_tensor(ByteWriter& w, const Tensor& t) {
  w.put<int32_t>(static_cast<int32_t>(t.dtype()));
  w.put<uint64_t>(t.shape().size());
  for (int64_t d : t.shape()) w.put<int64_t>(d);
  w.put<uint64_t>(t.nbytes());
  w.put_bytes(t.raw(), t.nbytes());
}

Tensor read_tensor(ByteReader& r) {
  const auto dt = static_cast<DataType>(r.get<int32_t>());
  if (!dtype_is_supported(dt)) r.fail("bad tensor dtype " + std::to_string(static_cast<int>(dt)));
  Shape shape(r.get_count(8));
  for (auto& d : shape) {
    d = r.get<int64_t>();
    if (d < 0) r.fail("negative tensor dimension");
  }
  const uint64_t nbytes = r.get<uint64_t>();
  if (nbytes > r.remaining()) r.fail("tensor data truncated");
  int64_t numel;
  try {
    numel = shape_numel(shape);
  } catch (const Error&) {
    r.fail("tensor element count overflows");
  }
  if (static_cast<uint64_t>(numel) * dtype_size(dt) != nbytes) r.fail("tensor size does not match its shape");
  Tensor t = Tensor::empty(dt, shape);
  std::memcpy(t.raw(), r.take(nbytes), nbytes);
  return t;
}

void write_graph(ByteWriter& w, const Graph& g, const SerializeOptions& options) {
  w.put_str(g.name);
  w.put<uint64_t>(g.opsets.size());
  for (const auto& [domain, version] : g.opsets) {
    w.put_str(domain);
    w.put<int64_t>(version);
  }
  w.put<uint64_t>(g.values.size());
  for (size_t i = 0; i < g.values.size(); ++i) {
    const Value& v = g.values[i];
    const bool strip = options.strip && std::find(options.strip->begin(), options.strip->end(),
                                                   static_cast<ValueId>(i)) != options.strip->end();
    w.put_str(v.name);
    w.put<int32_t>(static_cast<int32_t>(v.dtype));
    w.put<uint8_t>(v.shape ? 1 : 0);
    if (v.shape) write_shape(w, *v.shape);
    if (strip) {
      w.put<uint8_t>(k_const_stripped);
    } else if (!v.constant) {
      w.put<uint8_t>(k_const_none);
    } else {
      w.put<uint8_t>(k_const_data);
      write_tensor(w, *v.constant);
    }
  }
  w.put<uint64_t>(g.nodes.size());
  for (const Node& n : g.nodes) {
    w.put_str(n.name);
    w.put_str(n.op_type);
    w.put_str(n.domain);
    write_ids(w, n.inputs);
    write_ids(w, n.outputs);
    w.put<uint64_t>(n.attrs.size());
    for (const auto& [key, a] : n.attrs) {
      w.put_str(key);
      write_attr(w, a);
    }
  }
  write_ids(w, g.inputs);
  write_ids(w, g.outputs);
}

Graph read_graph(ByteReader& r, std::vector<ValueId>* stripped) {
  Graph g;
  g.name = r.get_str();
  for (uint64_t i = 0, n = r.get_count(12); i < n; ++i) {
    std::string domain = r.get_str();
    g.opsets[domain] = r.get<int64_t>();
  }
  g.values.resize(r.get_count(10));
  for (size_t i = 0; i < g.values.size(); ++i) {
    Value& v = g.values[i];
    v.name = r.get_str();
    v.dtype = static_cast<DataType>(r.get<int32_t>());
    if (r.get<uint8_t>()) v.shape = read_shape(r);
    const uint8_t c = r.get<uint8_t>();
    if (c == k_const_data) v.constant = read_tensor(r);
    else if (c == k_const_stripped && stripped) stripped->push_back(static_cast<ValueId>(i));
    else if (c != k_const_none && c != k_const_stripped) r.fail("bad constant flag");
    // Stripped weights come back as values with no data; refit fills them.
  }
  const size_t n_values = g.values.size();
  g.nodes.resize(r.get_count(20));
  for (Node& n : g.nodes) {
    n.name = r.get_str();
    n.op_type = r.get_str();
    n.domain = r.get_str();
    n.inputs = read_ids(r, n_values);
    n.outputs = read_ids(r, n_values);
    for (uint64_t i = 0, na = r.get_count(8); i < na; ++i) {
      std::string key = r.get_str();
      n.attrs[key] = read_attr(r);
    }
  }
  g.inputs = read_ids(r, n_values);
  g.outputs = read_ids(r, n_values);
  for (ValueId id : g.inputs) if (id < 0) r.fail("omitted graph input");
  for (ValueId id : g.outputs) if (id < 0) r.fail("omitted graph output");
  return g;
}

namespace {
void canonical_attr(std::ostringstream& os, const Attribute& a) {
  switch (a.kind) {
    case Attribute::Kind::Int: os << a.i; break;
    case Attribute::Kind::Float: os << std::hexfloat << a.f << std::defaultfloat; break;
    case Attribute::Kind::String: os << '"' << a.s.size() << ':' << a.s << '"'; break;
    case Attribute::Kind::Ints: for (int64_t v : a.ints) os << v << ','; break;
    case Attribute::Kind::Floats: for (float v : a.floats) os << std::hexfloat << v << std::defaultfloat << ','; break;
    case Attribute::Kind::Strings: for (const auto& s : a.strings) os << s.size() << ':' << s << ','; break;
    case Attribute::Kind::Tensor: {
      // Attribute tensors are small and part of the structure: hash their bytes.
      os << dtype_name(a.t->dtype()) << shape_str(a.t->shape()) << '{';
      const auto* p = static_cast<const uint8_t*>(a.t->raw());
      for (size_t i = 0; i < a.t->nbytes(); ++i) os << std::hex << int(p[i]) << std::dec << '.';
      os << '}';
      break;
    }
    case Attribute::Kind::Graph: os << "graph{" << (a.g ? canonical_text(*a.g) : "") << '}'; break;
  }
}

// Values numbered in order of first appearance: inputs, then node inputs/outputs.
std::vector<int64_t> canonical_numbering(const Graph& g) {
  std::vector<int64_t> num(g.values.size(), -1);
  int64_t next = 0;
  auto see = [&](ValueId v) { if (v != k_no_value && num[static_cast<size_t>(v)] < 0) num[static_cast<size_t>(v)] = next++; };
  for (ValueId v : g.inputs) see(v);
  for (const Node& n : g.nodes) {
    for (ValueId v : n.inputs) see(v);
    for (ValueId v : n.outputs) see(v);
  }
  for (ValueId v : g.outputs) see(v);
  return num;
}
}  // namespace

std::string canonical_text(const Graph& g) {
  const std::vector<int64_t> num = canonical_numbering(g);
  std::ostringstream os;
  auto value_desc = [&](ValueId id) {
    const Value& v = g.value(id);
    os << '%' << num[static_cast<size_t>(id)] << ':' << dtype_name(v.dtype)
       << (v.shape ? sym_str(*v.shape) : "[*]") << (v.constant ? "=const" : "");
  };
  os << "kiln-graph-v1\n";
  for (const auto& [domain, version] : g.opsets) os << "opset " << domain << ' ' << version << '\n';
  os << "inputs";
  for (ValueId v : g.inputs) { os << ' '; value_desc(v); }
  os << '\n';
  for (const Node& n : g.nodes) {
    os << n.domain << "::" << n.op_type << '(';
    for (ValueId v : n.inputs) {
      if (v == k_no_value) os << '_';
      else value_desc(v);
      os << ',';
    }
    os << ")->(";
    for (ValueId v : n.outputs) os << (v == k_no_value ? -1 : num[static_cast<size_t>(v)]) << ',';
    os << ')';
    for (const auto& [key, a] : n.attrs) {
      os << ' ' << key << '=';
      canonical_attr(os, a);
    }
    os << '\n';
  }
  os << "outputs";
  for (ValueId v : g.outputs) os << ' ' << num[static_cast<size_t>(v)];
  os << '\n';
  return os.str();
}

std::vector<const Tensor*> canonical_constants(const Graph& g) {
  const std::vector<int64_t> num = canonical_numbering(g);
  std::vector<std::pair<int64_t, const Tensor*>> consts;
  for (size_t i = 0; i < g.values.size(); ++i)
    if (g.values[i].constant && num[i] >= 0) consts.emplace_back(num[i], &*g.values[i].constant);
  std::sort(consts.begin(), consts.end());
  std::vector<const Tensor*> out;
  for (auto& c : consts) out.push_back(c.second);
  return out;
}

}  // namespace kiln::ir
