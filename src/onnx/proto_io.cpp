#include "onnx/proto_io.h"

#include <climits>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/message_lite.h>

#include "core/file_util.h"
#include "kiln/error.h"

namespace kiln::onnx {

std::string read_file_bytes(const std::string& path, size_t max_bytes, const std::string& what) {
  return read_file(path, what, max_bytes, ErrorCode::InvalidModel, "store large weights as external data");
}

bool parse_proto(const std::string& bytes, google::protobuf::MessageLite& msg) {
  if (bytes.size() > static_cast<size_t>(INT_MAX)) return false;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  in.SetTotalBytesLimit(INT_MAX);
  // A stray end-group tag stops parsing early without failing; treat it as corrupt.
  if (!msg.ParseFromCodedStream(&in)) return false;
  return in.ConsumedEntireMessage();
}

}  // namespace kiln::onnx
