#include "onnx/attributes.h"

#include <onnx/onnx_pb.h>

#include "kiln/error.h"
#include "onnx/tensor_proto.h"

namespace kiln::onnx {

namespace {

using AP = ::onnx::AttributeProto;

// IR version 1 attributes carry no type; the field that is set decides.
int32_t implied_type(const AP& a, const std::string& label) {
  int32_t type = AP::UNDEFINED, found = 0;
  auto take = [&](bool present, int32_t t) { if (present) { type = t; ++found; } };
  take(a.has_f(), AP::FLOAT);
  take(a.has_i(), AP::INT);
  take(a.has_s(), AP::STRING);
  take(a.has_t(), AP::TENSOR);
  take(a.has_g(), AP::GRAPH);
  take(a.floats_size() > 0, AP::FLOATS);
  take(a.ints_size() > 0, AP::INTS);
  take(a.strings_size() > 0, AP::STRINGS);
  take(a.tensors_size() > 0, AP::TENSORS);
  take(a.graphs_size() > 0, AP::GRAPHS);
  if (found != 1)
    throw Error(ErrorCode::InvalidModel, label + " has no type and " +
                                             (found ? "several value fields" : "no value"));
  return type;
}

}  // namespace

ir::Attribute attribute_from_proto(const AP& a, const ExternalDataResolver* external,
                                   const std::string& node_label) {
  const std::string label = node_label + ": attribute '" + a.name() + "'";
  if (!a.ref_attr_name().empty())
    throw Error(ErrorCode::Unsupported, label + " refers to function attribute '" + a.ref_attr_name() +
                                            "'; attribute references are not supported");
  const int32_t type = a.type() == AP::UNDEFINED ? implied_type(a, label) : a.type();
  auto require = [&](bool present, const char* what) {
    if (!present) throw Error(ErrorCode::InvalidModel, label + " is declared " + what + " but holds no value");
  };
  ir::Attribute out;
  using K = ir::Attribute::Kind;
  switch (type) {
    case AP::FLOAT: require(a.has_f(), "float"); out.kind = K::Float; out.f = a.f(); break;
    case AP::INT: require(a.has_i(), "int"); out.kind = K::Int; out.i = a.i(); break;
    case AP::STRING: require(a.has_s(), "string"); out.kind = K::String; out.s = a.s(); break;
    case AP::FLOATS: out.kind = K::Floats; out.floats.assign(a.floats().begin(), a.floats().end()); break;
    case AP::INTS: out.kind = K::Ints; out.ints.assign(a.ints().begin(), a.ints().end()); break;
    case AP::STRINGS: out.kind = K::Strings; out.strings.assign(a.strings().begin(), a.strings().end()); break;
    case AP::TENSOR:
      require(a.has_t(), "tensor");
      out.kind = K::Tensor;
      out.t = tensor_from_proto(a.t(), external, label);
      break;
    case AP::GRAPH:
      require(a.has_g(), "graph");
      out.kind = K::Graph;  // body not imported: see attributes.h
      break;
    case AP::TENSORS: case AP::GRAPHS: case AP::SPARSE_TENSOR: case AP::SPARSE_TENSORS:
    case AP::TYPE_PROTO: case AP::TYPE_PROTOS:
      throw Error(ErrorCode::Unsupported, label + " has attribute type " + AP::AttributeType_Name(
                                                  static_cast<AP::AttributeType>(type)) + ", which kiln does not support");
    default:
      throw Error(ErrorCode::InvalidModel, label + " has unknown attribute type " + std::to_string(type));
  }
  return out;
}

}  // namespace kiln::onnx
