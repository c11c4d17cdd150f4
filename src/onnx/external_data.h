// ONNX external data: a tensor whose bytes live in another file, named by the
// TensorProto's external_data entries (location, offset, length). kiln follows
// only relative paths inside the model's directory — absolute paths, `..`
// components and symbolic links (in any component) are refused — so a model
// cannot make kiln read arbitrary files.
#pragma once

#include <cstdint>
#include <string>

namespace onnx {
class TensorProto;
}

namespace kiln::onnx {

struct ExternalRef {
  std::string location;  // relative path, as written in the model
  uint64_t offset = 0;
  uint64_t length = 0;   // bytes; the model may omit it, then the shape decides
};

class ExternalDataResolver {
 public:
  // `base_dir` is the model's directory; an empty one refuses all external data
  // (a model imported from bytes with no directory).
  explicit ExternalDataResolver(std::string base_dir) : m_base_dir(std::move(base_dir)) {}
  const std::string& base_dir() const { return m_base_dir; }

  // Reads and checks the entries of `tensor` (whose data must take
  // `expected_bytes`) without touching the file system. `label` names the
  // tensor in errors. Error(InvalidModel) on a refused or malformed reference,
  // Error(InvalidArgument) when there is no base directory.
  ExternalRef parse(const ::onnx::TensorProto& tensor, uint64_t expected_bytes,
                    const std::string& label) const;

  // Opens the file component by component without following symlinks, checks
  // that it is a regular file holding [offset, offset+length), and reads that
  // range into `dst` (ref.length bytes). Missing/unreadable → Error(IO);
  // symlink, not a regular file, or range past the end → Error(InvalidModel).
  void read(const ExternalRef& ref, void* dst, const std::string& label) const;

 private:
  std::string m_base_dir;
};

}  // namespace kiln::onnx
