// Helpers for the ONNX import tests: ModelProtos built with the protobuf API,
// and temporary directories to write them (and external data) into.
#pragma once

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "ir/op_schema.h"
#include "kiln/error.h"

namespace kiln::test {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/kiln_onnx_XXXXXX";
    const char* p = ::mkdtemp(tmpl);
    if (!p) throw std::runtime_error("mkdtemp failed");
    m_path = p;
  }
  ~TempDir() { std::error_code ec; std::filesystem::remove_all(m_path, ec); }
  const std::string& path() const { return m_path; }
  std::string file(const std::string& name) const { return m_path + "/" + name; }
  std::string write(const std::string& name, const std::string& bytes) const {
    const std::string p = file(name);
    std::filesystem::create_directories(std::filesystem::path(p).parent_path());
    std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return p;
  }

 private:
  std::string m_path;
};

using DimSpec = std::variant<int64_t, std::string>;  // dim_value or dim_param ("" = unset)

inline void set_type(::onnx::ValueInfoProto* v, int32_t dtype, const std::vector<DimSpec>& dims) {
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(dtype);
  auto* shape = tt->mutable_shape();
  for (const DimSpec& d : dims) {
    auto* dim = shape->add_dim();
    if (std::holds_alternative<int64_t>(d)) dim->set_dim_value(std::get<int64_t>(d));
    else if (!std::get<std::string>(d).empty()) dim->set_dim_param(std::get<std::string>(d));
  }
}

struct ModelBuilder {
  ::onnx::ModelProto m;

  explicit ModelBuilder(int64_t opset = 13) {
    m.set_ir_version(8);
    auto* o = m.add_opset_import();
    o->set_domain("");
    o->set_version(opset);
    m.mutable_graph()->set_name("test_graph");
  }
  ::onnx::GraphProto& g() { return *m.mutable_graph(); }

  ::onnx::ValueInfoProto& input(const std::string& name, int32_t dtype, const std::vector<DimSpec>& dims) {
    auto* v = g().add_input();
    v->set_name(name);
    set_type(v, dtype, dims);
    return *v;
  }
  ::onnx::ValueInfoProto& output(const std::string& name, int32_t dtype, const std::vector<DimSpec>& dims) {
    auto* v = g().add_output();
    v->set_name(name);
    set_type(v, dtype, dims);
    return *v;
  }
  ::onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& ins,
                          const std::vector<std::string>& outs, const std::string& name = "") {
    auto* n = g().add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (const auto& i : ins) n->add_input(i);
    for (const auto& o : outs) n->add_output(o);
    return *n;
  }
  ::onnx::TensorProto& init_floats(const std::string& name, const std::vector<int64_t>& dims,
                                   const std::vector<float>& values) {
    auto* t = g().add_initializer();
    t->set_name(name);
    t->set_data_type(::onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    for (float v : values) t->add_float_data(v);
    return *t;
  }
  std::string bytes() const { return m.SerializeAsString(); }
};

inline void add_int_attr(::onnx::NodeProto& n, const std::string& name, int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::INT);
  a->set_i(v);
}
inline void add_ints_attr(::onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

template <typename T>
std::string raw_bytes(const std::vector<T>& v) {
  std::string s(v.size() * sizeof(T), '\0');
  if (!v.empty()) std::memcpy(s.data(), v.data(), s.size());
  return s;
}

// Runs `stmt`, expects a kiln::Error with `code` whose message contains every
// string in `needles`.
#define EXPECT_KILN_ERROR(stmt, code_, ...)                                        \
  do {                                                                            \
    try {                                                                         \
      stmt;                                                                       \
      ADD_FAILURE() << "expected kiln::Error from: " #stmt;                       \
    } catch (const ::kiln::Error& e_) {                                           \
      EXPECT_EQ(e_.code(), code_) << e_.what();                                   \
      for (const std::string& n_ : std::vector<std::string>{__VA_ARGS__})         \
        EXPECT_NE(e_.message().find(n_), std::string::npos)                       \
            << "message lacks '" << n_ << "': " << e_.what();                     \
    }                                                                             \
  } while (0)

}  // namespace kiln::test
