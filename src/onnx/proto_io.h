// Reading whole files and parsing protobufs from them, safely: every failure is a
// kiln::Error naming the file, and hostile bytes never crash the parser.
#pragma once

#include <cstddef>
#include <string>

namespace google::protobuf {
class MessageLite;
}

namespace kiln::onnx {

// Protobuf messages cannot exceed 2 GiB; bigger weights belong in external data.
constexpr size_t k_max_proto_bytes = size_t{2} << 30;

// Reads a model or tensor file whole (core/file_util.h's read_file). Missing, unreadable, a directory or not a regular
// file → Error(IO); larger than `max_bytes` → Error(InvalidModel). `what` names
// the file's role in messages ("model", "tensor").
std::string read_file_bytes(const std::string& path, size_t max_bytes, const std::string& what);

// Parses `bytes` into `msg`; false when the bytes are not a valid encoding of it.
// Recursion depth and size are bounded by protobuf's CodedInputStream limits.
bool parse_proto(const std::string& bytes, google::protobuf::MessageLite& msg);

}  // namespace kiln::onnx
